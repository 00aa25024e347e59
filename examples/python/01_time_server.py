#!/usr/bin/env python3
"""Lesson 01 in Python: an iterative TCP time server and its client.

A complete, correct version of the lesson's contract, written the way a student following the
course might. Grade it like any student's program:

    WORKBOOK_TARGET_01_TIME_SERVER="python3 examples/python/01_time_server.py" \
        cargo test --test 01_time_server
"""

import datetime
import struct
import sys
import threading
import time

import contract

SECONDS_1900_TO_1970 = 2208988800


# ANCHOR: byte_order
def time_reply(rfc868):
    """The bytes the server sends: RFC 3339 text with milliseconds, or RFC 868's 4 bytes."""
    if rfc868:
        return struct.pack("!I", (int(time.time()) + SECONDS_1900_TO_1970) & 0xFFFFFFFF)
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z\n").encode()
# ANCHOR_END: byte_order


# ANCHOR: serve
def serve(listener, rfc868, args, exit_after=None):
    served = 0
    while exit_after is None or served < exit_after:
        conn, peer = listener.accept()
        served += 1
        contract.say(args, f"accepted {contract.show(peer)}")
        with conn:
            try:
                conn.sendall(time_reply(rfc868))
            except OSError as e:
                contract.say(args, f"send failed: {e}")
# ANCHOR_END: serve


# ANCHOR: client
def fetch(host, port):
    """Read until the server closes: one recv() may return only part of the reply."""
    with contract.connect(host, port) as sock:
        chunks = []
        while True:
            data = sock.recv(1024)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def show_time(reply, rfc868):
    if not rfc868:
        return reply.decode("utf-8", "replace").rstrip("\r\n")
    if len(reply) != 4:
        raise contract.ContractError(f"expected 4 bytes of RFC 868 time, got {len(reply)}")
    unix = struct.unpack("!I", reply)[0] - SECONDS_1900_TO_1970
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
# ANCHOR_END: client


def main():
    top, server, client = contract.parser("Lesson 01: a TCP time server", 7001)
    server.add_argument("--rfc868", action="store_true")
    server.add_argument("--exit-after", type=int)
    client.add_argument("--rfc868", action="store_true")
    args = top.parse_args()
    if args.mode == "server":
        listener = contract.listen(args.host, args.port)
        contract.announce(listener)
        serve(listener, args.rfc868, args, args.exit_after)
    elif args.mode == "client":
        print(show_time(fetch(args.host, args.port), args.rfc868), flush=True)
    else:
        listener = contract.listen("127.0.0.1", 0)
        host, port = listener.getsockname()[:2]
        thread = threading.Thread(target=serve, args=(listener, False, args, 2))
        thread.start()
        for _ in range(2):
            print(show_time(fetch(host, port), False), flush=True)
        thread.join()
        print(f"try: python3 {sys.argv[0]} server", file=sys.stderr)


if __name__ == "__main__":
    contract.run(main)
