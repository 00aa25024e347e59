#!/usr/bin/env python3
"""Lesson 03 in Python: a UDP echo server, a client that retries, and ping.

A complete, correct version of the lesson's contract. Grade it like any student's program:

    WORKBOOK_TARGET_03_UDP="python3 examples/python/03_udp.py" cargo test --test 03_udp
"""

import argparse
import socket
import sys
import threading
import time

import contract

PORT = 7003
BUFSIZE = 65536  # room for any datagram: recvfrom() throws away what does not fit
MAX_PAYLOAD = {socket.AF_INET: 65507, socket.AF_INET6: 65527}
MASK = (1 << 64) - 1


class Advice(contract.ContractError):
    """An error with the lesson's own hint line."""

    def __init__(self, message, hint):
        super().__init__(message)
        self.hint = hint


def rate(text):
    """--drop: a fraction from 0.0 to 1.0; anything else is a usage error (exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not between 0.0 and 1.0")
    return value


def positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


# ANCHOR: drop
class Dropper:
    """--drop with --seed: the k-th datagram is dropped when the k-th splitmix64 number, as a
    fraction in [0, 1), is below the rate. The same algorithm as the Rust version."""

    def __init__(self, rate, seed):
        self.rate = rate
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def drops(self):
        return (self.next() >> 11) / float(1 << 53) < self.rate
# ANCHOR_END: drop


def udp_address(host, port):
    family, _, _, _, addr = contract.resolve(host, port, socket.SOCK_DGRAM)[0]
    return family, addr


# ANCHOR: bind
def bind(host, port):
    """socket(SOCK_DGRAM) and bind(): all a UDP server needs. No listen, no accept."""
    family, addr = udp_address(host, port)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise contract.ContractError(f"failed to bind {contract.show(addr)}: {e.strerror}")
    return sock
# ANCHOR_END: bind


# ANCHOR: serve
def serve(sock, dropper, args, exit_after=None):
    received = 0
    while exit_after is None or received < exit_after:
        data, peer = sock.recvfrom(BUFSIZE)  # one whole datagram, and who sent it
        received += 1
        if dropper.drops():
            contract.say(args, f"{len(data)} bytes from {contract.show(peer)}: dropped")
            continue
        try:
            sock.sendto(data, peer)
            contract.say(args, f"{len(data)} bytes from {contract.show(peer)}: echoed")
        except OSError as e:
            contract.say(args, f"sendto {contract.show(peer)} failed: {e}")
# ANCHOR_END: serve


def same_endpoint(a, b):
    """The same IP address and port (recvfrom and getaddrinfo write addresses the same way)."""
    return a[0] == b[0] and a[1] == b[1]


# ANCHOR: client
def wait_for(sock, deadline, wanted):
    """recvfrom() until a datagram for which wanted(data, sender) holds: (data, arrival time),
    or None at the deadline. Anything else (a stranger, a stale echo) is ignored."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, sender = sock.recvfrom(BUFSIZE)
        except socket.timeout:
            return None
        except (ConnectionRefusedError, ConnectionResetError):
            continue  # an ICMP error (some systems report it): keep waiting
        if wanted(data, sender):
            return data, time.monotonic()


def check_size(message, family):
    limit = MAX_PAYLOAD[family]
    if len(message) > limit:
        ip = "IPv4" if family == socket.AF_INET else "IPv6"
        raise Advice(
            f"a message of {len(message)} bytes does not fit in one UDP datagram: "
            f"over {ip} the most is {limit} bytes",
            "UDP will not split a message for you: send smaller ones, or use TCP (lesson 02)",
        )


def exchange(sock, addr, message, timeout, retries):
    """sendto, then wait for the echo; on silence send again, up to `retries` times."""
    for _ in range(retries + 1):
        sock.sendto(message, addr)
        got = wait_for(
            sock,
            time.monotonic() + timeout,
            lambda data, sender: same_endpoint(sender, addr) and data == message,
        )
        if got is not None:
            return got[0]
    raise Advice(
        f"no reply from {contract.show(addr)} after {retries + 1} tries",
        "UDP gives no delivery guarantee: the datagram or its echo may be lost, and when "
        "nothing listens there the sender is not told. Is the server running?",
    )
# ANCHOR_END: client


def client_messages(args):
    if args.messages:
        return [m.encode() for m in args.messages]
    return (line.rstrip(b"\n").rstrip(b"\r") for line in sys.stdin.buffer)


def client(host, port, timeout, retries, messages):
    family, addr = udp_address(host, port)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for message in messages:
            check_size(message, family)
            reply = exchange(sock, addr, message, timeout, retries)
            sys.stdout.buffer.write(reply + b"\n")
            sys.stdout.flush()


def percent(value):
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# ANCHOR: ping
def ping(host, port, count, interval, timeout):
    family, addr = udp_address(host, port)
    rtts = []
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for seq in range(1, count + 1):
            if seq > 1:
                time.sleep(interval)  # pacing between probes, not a wait for anything
            payload = f"ping seq={seq}".encode()  # the echo carries the number back
            sent = time.monotonic()
            sock.sendto(payload, addr)
            got = wait_for(
                sock,
                sent + timeout,
                lambda data, sender: same_endpoint(sender, addr) and data == payload,
            )
            if got is None:
                print(f"seq={seq} timeout", flush=True)
            else:
                rtt = (got[1] - sent) * 1000
                rtts.append(rtt)
                print(f"reply from {contract.show(addr)}: seq={seq} time={rtt:.3f} ms", flush=True)
    loss = 100.0 * (count - len(rtts)) / count
    print(f"{count} transmitted, {len(rtts)} received, {percent(loss)}% loss")
    if rtts:
        print(f"rtt min/avg/max = {min(rtts):.3f}/{sum(rtts) / len(rtts):.3f}/{max(rtts):.3f} ms")
    sys.stdout.flush()
# ANCHOR_END: ping


def parser():
    top = argparse.ArgumentParser(description="Lesson 03: UDP echo, client with retries, ping")
    modes = top.add_subparsers(dest="mode")
    modes.add_parser("demo")
    parsers = {}
    for name in ("server", "client", "ping"):
        mode = modes.add_parser(name)
        mode.add_argument("--host", default=contract.HOST)
        mode.add_argument("--port", "-p", type=contract.port_number, default=PORT)
        mode.add_argument("--quiet", "-q", action="store_true")
        parsers[name] = mode
    parsers["server"].add_argument("--drop", type=rate, default=0.0)
    parsers["server"].add_argument("--seed", type=int)
    parsers["server"].add_argument("--exit-after", type=int)
    parsers["client"].add_argument("--timeout-ms", type=positive, default=1000)
    parsers["client"].add_argument("--retries", type=int, default=3)
    parsers["client"].add_argument("messages", nargs="*")
    parsers["ping"].add_argument("--count", type=positive, default=10)
    parsers["ping"].add_argument("--interval-ms", type=int, default=200)
    parsers["ping"].add_argument("--timeout-ms", type=positive, default=1000)
    return top


def demo(args):
    sock = bind("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    threading.Thread(target=serve, args=(sock, Dropper(0.25, 7), args), daemon=True).start()
    client(host, port, 0.3, 3, [b"Hello, UDP", b"one datagram, one message"])
    ping(host, port, 8, 0.05, 0.3)
    print(f"try: python3 {sys.argv[0]} server, then nc -u 127.0.0.1 {PORT}", file=sys.stderr)


def main():
    args = parser().parse_args()
    try:
        if args.mode == "server":
            sock = bind(args.host, args.port)
            contract.announce(sock)
            seed = args.seed if args.seed is not None else time.time_ns()
            serve(sock, Dropper(args.drop, seed), args, args.exit_after)
        elif args.mode == "client":
            client(args.host, args.port, args.timeout_ms / 1000, args.retries, client_messages(args))
        elif args.mode == "ping":
            ping(args.host, args.port, args.count, args.interval_ms / 1000, args.timeout_ms / 1000)
        else:
            demo(args)
    except Advice as e:
        print(f"error: {e}", file=sys.stderr)
        print(f"hint: {e.hint}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    contract.run(main)
