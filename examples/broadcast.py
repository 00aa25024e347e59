#!/usr/bin/env python3
"""UDP broadcast on one machine: one datagram, every listener on the port gets a copy.

    python3 examples/broadcast.py

Linux gives its loopback interface the network 127.0.0.0/8, whose broadcast address is
127.255.255.255, so a broadcast can be sent and received without leaving the machine (no
packet reaches a real network). Two listeners share one port; one sender sends one datagram
to the broadcast address, first without SO_BROADCAST (refused), then with it. On macOS and
Windows the loopback interface does not broadcast, and the program says so.
"""

# ANCHOR: program
import socket
import sys

BROADCAST = "127.255.255.255"  # loopback's broadcast address (127.0.0.0/8, host part all ones)
WAIT = 2.0  # seconds: on loopback a datagram arrives at once or never


def listener(port):
    """A UDP socket that receives datagrams sent to the broadcast address on `port`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Two sockets may then share the port, as two machines on one network would each have it.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Bound to the broadcast address, not 127.0.0.1: a socket bound to 127.0.0.1 takes only
    # datagrams sent to 127.0.0.1. (0.0.0.0 would take both, from every network, too.)
    sock.bind((BROADCAST, port))
    sock.settimeout(WAIT)
    return sock


def main():
    first = listener(0)  # the kernel picks a free port…
    port = first.getsockname()[1]
    second = listener(port)  # …and the second listener shares it
    print(f"two listeners on {BROADCAST}:{port}")

    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sender.sendto(b"hello, everyone", (BROADCAST, port))
        print("sendto without SO_BROADCAST: sent (this system does not guard broadcasts)")
    except PermissionError as e:
        # The guard against broadcasting by accident: EACCES until the option is set.
        print(f"sendto without SO_BROADCAST: {e}")

    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sender.sendto(b"hello, everyone", (BROADCAST, port))
    print(f"sendto with SO_BROADCAST: one datagram from {sender.getsockname()}")

    for name, sock in (("first", first), ("second", second)):
        try:
            data, peer = sock.recvfrom(1024)
        except TimeoutError:
            print(
                f"error: the {name} listener received nothing within {WAIT} s\n"
                "hint: loopback broadcast works on Linux; on macOS or Windows try a real "
                "interface's broadcast address on a network you own",
                file=sys.stderr,
            )
            return 1
        print(f"{name} listener got {data!r} from {peer}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        hint = "hint: run it on Linux, where loopback has a broadcast address"
        print(f"error: {e}\n{hint}", file=sys.stderr)
        sys.exit(1)
# ANCHOR_END: program
