#!/usr/bin/env python3
"""Lesson 02 in Python: a TCP echo server and client.

A complete, correct version of the lesson's contract. Grade it like any student's program:

    WORKBOOK_TARGET_02_ECHO="python3 examples/python/02_echo.py" cargo test --test 02_echo
"""

import socket
import sys
import threading

import contract


def transform(data, upper):
    """bytes.upper() changes only ASCII letters, byte by byte, as the contract asks."""
    return data.upper() if upper else data


# ANCHOR: echo_loop
def echo_until_closed(conn, upper):
    while True:
        data = conn.recv(1024)  # whatever has arrived: 1 to 1024 bytes, not "a message"
        if not data:
            return  # the client shut down its sending side
        conn.sendall(transform(data, upper))
# ANCHOR_END: echo_loop


def limit_idle(conn, args):
    """--idle-timeout-ms: a recv() or send() that waits longer raises TimeoutError (an OSError),
    so a silent client cannot hold the server (02), its thread (04) or a worker (05) forever.
    0: no limit."""
    conn.settimeout(args.idle_timeout_ms / 1000 if args.idle_timeout_ms else None)


# ANCHOR: serve
def serve(listener, upper, args, exit_after=None):
    served = 0
    while exit_after is None or served < exit_after:
        conn, peer = listener.accept()
        served += 1
        contract.say(args, f"accepted {contract.show(peer)}")
        with conn:
            try:
                limit_idle(conn, args)
                echo_until_closed(conn, upper)
            except OSError as e:
                contract.say(args, f"dropping {contract.show(peer)}: {e}")
# ANCHOR_END: serve


# ANCHOR: client
def echo_one(sock, message):
    """Send on a thread while reading here, until the whole echo is back."""
    sender = threading.Thread(target=sock.sendall, args=(message,))
    sender.start()
    reply = bytearray()
    while len(reply) < len(message):
        data = sock.recv(min(65536, len(message) - len(reply)))
        if not data:
            raise contract.ContractError(f"the server closed after {len(reply)} of {len(message)} bytes")
        reply += data
    sender.join()
    return bytes(reply)


def finish(sock):
    sock.shutdown(socket.SHUT_WR)  # "I will send nothing more"
    while sock.recv(1024):
        pass
# ANCHOR_END: client


def messages(args):
    if args.messages:
        return [m.encode() + b"\n" for m in args.messages]
    return (line if line.endswith(b"\n") else line + b"\n" for line in sys.stdin.buffer)


def main():
    top, server, client = contract.parser("Lesson 02: a TCP echo server and client", 7002)
    server.add_argument("--upper", action="store_true")
    server.add_argument("--exit-after", type=int)
    server.add_argument("--idle-timeout-ms", type=int, default=60000)
    client.add_argument("messages", nargs="*")
    args = top.parse_args()
    if args.mode == "server":
        listener = contract.listen(args.host, args.port)
        contract.announce(listener)
        serve(listener, args.upper, args, args.exit_after)
    elif args.mode == "client":
        with contract.connect(args.host, args.port, timeout=30) as sock:
            for message in messages(args):
                sys.stdout.buffer.write(echo_one(sock, message))
                sys.stdout.flush()
            finish(sock)
    else:
        listener = contract.listen("127.0.0.1", 0)
        host, port = listener.getsockname()[:2]
        args.idle_timeout_ms = 60000
        thread = threading.Thread(target=serve, args=(listener, False, args, 1))
        thread.start()
        with contract.connect(host, port) as sock:
            print(echo_one(sock, b"Hello, world\n").decode(), end="", flush=True)
            finish(sock)
        thread.join()
        print(f"try: python3 {sys.argv[0]} server", file=sys.stderr)


if __name__ == "__main__":
    contract.run(main)
