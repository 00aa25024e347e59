#!/usr/bin/env python3
"""Lesson 04 in Python: the echo server of lesson 02, one thread per connection.

A complete, correct version of the lesson's contract. Grade it like any student's program:

    WORKBOOK_TARGET_04_THREADED="python3 examples/python/04_threaded.py" cargo test --test 04_threaded

The echo loop and the client are lesson 02's, imported from 02_echo.py; what is new is `serve`.
"""

import importlib
import select
import signal
import socket
import sys
import threading

import contract

echo = importlib.import_module("02_echo")  # a module name may not start with a digit in `import`


def say(args, text):
    """contract.say, but one write per line: print() writes the text and its newline
    separately, so lines from several threads could interleave."""
    if not getattr(args, "quiet", False):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


# ANCHOR: handle
def handle(conn, peer, upper, args, live):
    """One client's whole life, on its own thread."""
    name = threading.current_thread().name
    say(args, f"{name}: serving {contract.show(peer)}")
    with conn:
        try:
            echo.limit_idle(conn, args)
            echo.echo_until_closed(conn, upper)
        except OSError as e:
            say(args, f"{name}: dropping {contract.show(peer)}: {e}")
    with live["lock"]:
        live["count"] -= 1
        left = live["count"]
    say(args, f"{name}: done with {contract.show(peer)}; {left} client thread(s) alive")
# ANCHOR_END: handle


# ANCHOR: accept_loop
def start_thread(number, conn, peer, upper, args, live):
    """The client's thread, or None if none could start (out of memory for its stack, or of
    threads): that one connection is closed, and the server goes on."""
    thread = threading.Thread(target=handle, args=(conn, peer, upper, args, live), name=f"thread-{number}")
    try:
        thread.start()
    except RuntimeError as e:  # "can't start new thread"
        say(args, f"thread-{number}: {e}; closing {contract.show(peer)}")
        conn.close()
        with live["lock"]:
            live["count"] -= 1
        return None
    return thread


def wait_for(threads):
    """--exit-after: the clients already accepted are finished before the server exits."""
    for thread in threads:
        thread.join()


def accept(listener, args, wakeup=None):
    """accept(), waiting out a shortage of descriptors: each client costs one. None: a signal."""
    return contract.accept_retrying(listener, say=lambda text: say(args, text), wakeup=wakeup)


def serve(listener, upper, args, exit_after=None, wakeup=None):
    live = {"lock": threading.Lock(), "count": 0}
    threads = []
    accepted = 0
    listener.setblocking(False)  # select() said "ready"; a client that left meanwhile must not block us
    while exit_after is None or accepted < exit_after:
        got = accept(listener, args, wakeup)
        if got is None:
            raise KeyboardInterrupt  # contract.run exits 130; client threads finish their clients
        conn, peer = got
        accepted += 1
        with live["lock"]:
            live["count"] += 1
            alive = live["count"]
        thread = start_thread(accepted, conn, peer, upper, args, live)
        if thread is None:
            continue
        threads.append(thread)
        say(args, f"accepted {contract.show(peer)} -> thread-{accepted}; {alive} client thread(s) alive")
        threads = [t for t in threads if t.is_alive()]
    wait_for(threads)
# ANCHOR_END: accept_loop


def watch_ctrl_c():
    """Ctrl-C (SIGINT), made readable: the interpreter writes the signal's number to a socket.

    A Python signal handler runs only in the main thread. The kernel may hand the signal to a
    client's thread instead, and then the main thread, blocked in accept(), is never
    interrupted: Ctrl-C would be ignored until the next client came. With set_wakeup_fd() the
    byte arrives whichever thread took the signal, and serve() waits on it with select() beside
    the listening socket. (lessons/05_thread_pool.md#which-thread-gets-the-signal)"""
    readable, written = socket.socketpair()
    readable.setblocking(False)
    written.setblocking(False)
    signal.set_wakeup_fd(written.fileno())
    signal.signal(signal.SIGINT, lambda signum, frame: None)  # the byte on the socket is what counts
    return readable, written  # keep both open: a closed end would read as a wake-up


def main():
    top, server, client = contract.parser("Lesson 04: an echo server, one thread per connection", 7004)
    server.add_argument("--upper", action="store_true")
    server.add_argument("--exit-after", type=int)
    server.add_argument("--idle-timeout-ms", type=int, default=60000)
    client.add_argument("messages", nargs="*")
    args = top.parse_args()
    if args.mode == "server":
        listener = contract.listen(args.host, args.port)
        wakeup, _signalled = watch_ctrl_c()
        contract.announce(listener)
        serve(listener, args.upper, args, args.exit_after, wakeup)
    elif args.mode == "client":
        with contract.connect(args.host, args.port, timeout=30) as sock:
            for message in echo.messages(args):
                sys.stdout.buffer.write(echo.echo_one(sock, message))
                sys.stdout.flush()
            echo.finish(sock)
    else:
        listener = contract.listen("127.0.0.1", 0)
        host, port = listener.getsockname()[:2]
        args.idle_timeout_ms = 60000
        server_thread = threading.Thread(target=serve, args=(listener, False, args, 2))
        server_thread.start()
        with contract.connect(host, port) as first, contract.connect(host, port) as second:
            # The first client stays connected while the second is served: two threads at work.
            print(echo.echo_one(first, b"Hello from client 1\n").decode(), end="", flush=True)
            print(echo.echo_one(second, b"Hello from client 2\n").decode(), end="", flush=True)
            echo.finish(second)
            echo.finish(first)
        server_thread.join()
        print(f"try: python3 {sys.argv[0]} server", file=sys.stderr)


if __name__ == "__main__":
    contract.run(main)
