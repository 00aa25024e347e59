"""The workbook's command-line contract, in Python: the part every lesson shares.

A student's version of a lesson, in any language, is graded through the same contract as the
Rust binaries (see lessons/README.md):

    PROGRAM                          the demo: server and client in one process, exit 0
    PROGRAM server [--host H] [--port P] [-q]   print exactly `listening on ADDR`, flushed
    PROGRAM client [--host H] [--port P] [-q]   print only what was received
    errors: one `error: ...` line on stderr, exit 1; usage errors exit 2

This module is that shell; each lesson file holds the lesson's own socket calls.
"""

import argparse
import errno
import select
import socket
import sys
import time

HOST = "127.0.0.1"


class ContractError(Exception):
    """An error to report as one `error:` line."""


def port_number(text):
    """A port 0-65535; anything else is a usage error (argparse exits 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}")
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0-65535")
    return port


def parser(description, default_port):
    """The shared parser: returns (parser, server, client) so a lesson can add its own flags."""
    top = argparse.ArgumentParser(description=description)
    modes = top.add_subparsers(dest="mode")
    modes.add_parser("demo", help="server and client in one process")
    endpoints = []
    for name in ("server", "client"):
        mode = modes.add_parser(name)
        mode.add_argument("--host", default=HOST)
        mode.add_argument("--port", "-p", type=port_number, default=default_port)
        mode.add_argument("--quiet", "-q", action="store_true")
        endpoints.append(mode)
    return top, endpoints[0], endpoints[1]


# ANCHOR: resolve
def resolve(host, port, kind=socket.SOCK_STREAM):
    """getaddrinfo, with an error that names the host."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return socket.getaddrinfo(bare, port, type=kind)
    except socket.gaierror as e:
        raise ContractError(f"could not resolve host `{host}`: {e.strerror}")
# ANCHOR_END: resolve


def show(addr):
    """An address as Rust prints it: 127.0.0.1:7001, [::1]:7001."""
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ANCHOR: listen
def listen(host, port, backlog=16):
    """socket, setsockopt(SO_REUSEADDR), bind, listen."""
    family, kind, proto, _, addr = resolve(host, port)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        raise ContractError(f"failed to bind {show(addr)}: {e.strerror}")
    sock.listen(backlog)
    return sock
# ANCHOR_END: listen


# accept() errors that end by themselves: out of descriptors (EMFILE, ENFILE) or kernel memory
# (ENOBUFS, ENOMEM) comes back as clients leave. Wait FIRST_WAIT, doubling up to LONGEST_WAIT.
SHORTAGE = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
FIRST_WAIT, LONGEST_WAIT = 0.010, 1.0
# accept() errors that concern one connection only (the client gave up, or Linux reporting its
# network error): take the next one at once.
THIS_CONNECTION = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENETDOWN, errno.ENOPROTOOPT,
                   errno.EHOSTDOWN, errno.ENONET, errno.EHOSTUNREACH, errno.EOPNOTSUPP,
                   errno.ENETUNREACH}


class Backoff:
    """How long to wait after each failure in a row: FIRST_WAIT, doubling, at most LONGEST_WAIT."""

    def __init__(self):
        self.wait = FIRST_WAIT

    def next(self):
        wait, self.wait = self.wait, min(self.wait * 2, LONGEST_WAIT)
        return wait

    def reset(self):
        self.wait = FIRST_WAIT


def shortage_wait(error, backoff, say):
    """What to do about an accept() error: None, take the next connection at once (that client
    gave up); or how many seconds to wait first (a shortage, narrated). Anything else is raised."""
    if error.errno in THIS_CONNECTION:
        return None
    if error.errno not in SHORTAGE:
        raise error
    wait = backoff.next()
    say(f"accept() failed: {error.strerror}; temporary: accept() again in {int(wait * 1000)} ms")
    return wait


def accept_retrying(listener, stopped=lambda: False, say=lambda text: None, wakeup=None):
    """accept() that a busy server survives: a shortage is waited out (10 ms doubling to 1 s,
    never a busy loop), a failed connection skipped. None when stopped() while waiting, or when
    `wakeup` (the read end of a signal.set_wakeup_fd pair) becomes readable: a signal came."""
    backoff = Backoff()
    waiting_on = [listener] if wakeup is None else [listener, wakeup]
    while True:
        # Python runs a signal handler only between bytecodes, and a signal delivered to
        # another thread does not interrupt this one's accept(): wait in bounded slices, so a
        # stop asked for by a handler is seen within half a second.
        ready = []
        while not ready:
            ready = select.select(waiting_on, [], [], 0.5)[0]
            if wakeup is not None and wakeup in ready:
                return None
            if not ready and stopped():
                return None
        try:
            conn, peer = listener.accept()
            conn.setblocking(True)
            return conn, peer
        except BlockingIOError:
            continue  # the client left between select() and accept() (a non-blocking listener)
        except OSError as e:
            wait = shortage_wait(e, backoff, say)
            if wait is not None:
                time.sleep(wait)
        if stopped():
            return None


def announce(sock):
    """The server's one line on stdout."""
    print(f"listening on {show(sock.getsockname())}", flush=True)


# ANCHOR: connect
def connect(host, port, timeout=10):
    """Try each address of host, like socket.create_connection."""
    error = None
    for family, kind, proto, _, addr in resolve(host, port):
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(addr)
            return sock
        except OSError as e:
            sock.close()
            error = ContractError(f"failed to connect to {show(addr)}: {e.strerror or e}")
    raise error
# ANCHOR_END: connect


def say(args, text):
    """Narration goes to stderr, unless -q."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr, flush=True)


def run(main):
    """Report errors the contract's way: one `error:` line, exit 1."""
    try:
        main()
    except (ContractError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
