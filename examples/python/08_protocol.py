#!/usr/bin/env python3
"""Lesson 08 in Python: a request/response protocol — length, JSON header, content.

A complete, correct version of the lesson's contract. Grade it like any student's program:

    WORKBOOK_TARGET_08_PROTOCOL="python3 examples/python/08_protocol.py" cargo test --test 08_protocol

A frame is a 2-byte big-endian header length, a UTF-8 JSON header (byteorder, content-type,
content-encoding, content-length), then exactly content-length bytes of content.
"""

import datetime
import importlib
import json
import os
import socket
import stat
import sys
import tempfile
import threading
import time
import zlib

import contract

pool = importlib.import_module("05_thread_pool")  # its signal wake-up; `import` takes no digit first

MAX_HEADER = 8 * 1024  # bytes of JSON header
MAX_CONTENT = 1 << 20  # bytes of content: 1 MiB
JSON, UTF8 = "application/json", "utf-8"
BINARY, RAW = "application/octet-stream", "binary"
REQUIRED = ("byteorder", "content-type", "content-encoding", "content-length")
IDLE_TIMEOUT = 30  # seconds a connection may stay silent
WRITE_TIMEOUT = 10  # seconds a response may take to send (the peer not reading)
FRAME_DEADLINE_MS = 10_000  # a frame must arrive within this of its first byte (--frame-deadline-ms)
MIN_RATE = 1000  # ... plus 1 s for each this many bytes: the minimum rate
MAX_CONNECTIONS = 64

DICTIONARY = {
    "socket": "an endpoint of a conversation between two programs",
    "port": "a 16-bit number that picks one program on a host",
    "frame": "one message on a byte stream: length, header, content",
    "endian": "the order of a number's bytes; big-endian puts the most significant first",
    "🦀": "Ferris, the Rust crab",
}


class FrameError(contract.ContractError):
    """A frame that breaks the protocol; the message says how."""


class Refusal(Exception):
    """A well-formed request the server will not answer."""


# --- framing ---------------------------------------------------------------------------------

# ANCHOR: encode
def length_prefix(n):
    """The header's length as 2 bytes, big-endian (network byte order)."""
    return n.to_bytes(2, "big")


def encode(content_type, encoding, content):
    header = json.dumps({
        "byteorder": sys.byteorder,
        "content-type": content_type,
        "content-encoding": encoding,
        "content-length": len(content),
    }, separators=(",", ":")).encode("utf-8")
    return length_prefix(len(header)) + header + content


def encode_json(value):
    return encode(JSON, UTF8, json.dumps(value, ensure_ascii=False).encode("utf-8"))
# ANCHOR_END: encode


# ANCHOR: read_frame
def recv_exactly(sock, n, part, end_ok=False):
    """Exactly n bytes, however many recv() calls it takes. The buffer grows with what arrives,
    never with what was claimed. None if the stream ends before the first byte and end_ok."""
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 65536))
        if not chunk:
            if end_ok and not data:
                return None
            raise FrameError(f"truncated frame: the stream ended after {len(data)} of the "
                             f"{n} bytes of the {part}")
        data += chunk
    return bytes(data)


def check_header(raw):
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FrameError(f"invalid header: {e}")
    if not isinstance(header, dict):
        raise FrameError("invalid header: not a JSON object")
    for field in REQUIRED:
        if field not in header:
            raise FrameError(f"invalid header: missing field `{field}`")
    length = header["content-length"]
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise FrameError("invalid header: content-length must be a whole number of bytes")
    if header["byteorder"] not in ("big", "little"):
        raise FrameError("invalid header: byteorder must be big or little")
    return header


def read_frame(sock):
    """(header, content), or None when the stream ends cleanly between frames."""
    prefix = recv_exactly(sock, 2, "header length", end_ok=True)
    if prefix is None:
        return None
    header_length = int.from_bytes(prefix, "big")
    if header_length > MAX_HEADER:  # a claim, checked before reading anything for it
        raise FrameError(f"header length {header_length} is over the limit of {MAX_HEADER} bytes")
    header = check_header(recv_exactly(sock, header_length, "header"))
    if header["content-length"] > MAX_CONTENT:  # refused before a byte of content is read
        raise FrameError(f"content-length {header['content-length']} is over the limit of "
                         f"{MAX_CONTENT} bytes")
    return header, recv_exactly(sock, header["content-length"], "content")
# ANCHOR_END: read_frame


# --- the server ------------------------------------------------------------------------------

class FrameClock:
    """A connection's reading side with its time limits (slowloris): each recv() waits at most
    until the idle limit or the current frame's deadline, whichever is sooner. The deadline
    starts at a frame's first byte and each byte extends it by 1/MIN_RATE s: an idle limit alone
    is renewed by every byte, so a peer trickling one byte a second would hold its slot for ever."""

    def __init__(self, conn, frame_deadline_ms):
        self.conn = conn
        self.frame = frame_deadline_ms / 1000
        self.deadline = None  # None between frames: only the idle limit applies

    def time_left(self):
        if self.deadline is None:
            return IDLE_TIMEOUT
        return min(IDLE_TIMEOUT, self.deadline - time.monotonic())

    def too_slow(self):
        return FrameError(f"too slow: a frame must arrive within {round(self.frame * 1000)} ms "
                          f"of its first byte, plus 1 s for each {MIN_RATE} bytes")

    def recv(self, n):
        left = self.time_left()
        if left <= 0:
            raise self.too_slow()
        self.conn.settimeout(left)
        try:
            data = self.conn.recv(n)
        except socket.timeout:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise self.too_slow()
            raise
        if data:
            if self.deadline is None:  # the frame's first byte starts its clock
                self.deadline = time.monotonic() + self.frame
            self.deadline += len(data) / MIN_RATE
        return data

    def recv_into(self, view):
        data = self.recv(len(view))
        view[:len(data)] = data
        return len(data)

    def frame_done(self):
        self.deadline = None


def now():
    moment = datetime.datetime.now(datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def respond(header, content):
    kind = (header["content-type"], header["content-encoding"])
    if kind == (BINARY, RAW):
        return encode(BINARY, RAW, content)  # binary content is an echo
    if kind != (JSON, UTF8):
        raise Refusal(f"unsupported content: content-type `{kind[0]}` with content-encoding `{kind[1]}`")
    try:
        body = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Refusal(f"the content is not valid JSON: {e}")
    if not isinstance(body, dict) or "action" not in body:
        raise Refusal("missing field `action` in the request")
    action = body["action"]
    if action == "search":
        if not isinstance(body.get("value"), str):
            raise Refusal("missing field `value` in the request")
        result = DICTIONARY.get(body["value"])
    elif action == "echo":
        if "value" not in body:
            raise Refusal("missing field `value` in the request")
        result = body["value"]
    elif action == "time":
        result = now()
    else:
        raise Refusal(f"unknown action `{action}`: the actions are search, echo and time")
    response = {"action": action, "result": result}
    if "value" in body:
        response["value"] = body["value"]
    return encode_json(response)


def refuse(conn, why):
    """An error frame, then a graceful close: FIN after the frame, and a short bounded drain so
    that closing with unread data does not send a reset over the error frame. The drain is
    bounded as a whole (1 s), not per recv: a trickling peer would renew a per-recv limit."""
    try:
        conn.settimeout(WRITE_TIMEOUT)
        conn.sendall(encode_json({"error": why}))
        conn.shutdown(socket.SHUT_WR)
        until = time.monotonic() + 1
        drained = 0
        while drained < MAX_CONTENT and time.monotonic() < until:
            conn.settimeout(max(until - time.monotonic(), 0.001))
            data = conn.recv(65536)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass


def refuse_at_once(conn, why):
    """Refuse from the accept loop without waiting on the peer: the short error frame fits in
    an empty send buffer, so a non-blocking send either takes it whole or fails; then close.
    (refuse() drains for up to 1 s: 2,000 silent peers would hold the loop for half an hour.)"""
    try:
        conn.setblocking(False)
        conn.send(encode_json({"error": why}))
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    conn.close()


# ANCHOR: connection
def serve_connection(conn, args):
    with conn:
        # The demo's args have no --frame-deadline-ms: it runs with the default.
        clock = FrameClock(conn, getattr(args, "frame_deadline_ms", FRAME_DEADLINE_MS))
        while True:
            try:
                frame = read_frame(clock)
            except FrameError as e:
                return refuse(conn, str(e))
            except socket.timeout:
                return refuse(conn, f"silent for {IDLE_TIMEOUT} s: no complete frame")
            except OSError:
                return
            if frame is None:
                return
            clock.frame_done()
            try:
                response = respond(*frame)
            except Refusal as e:
                return refuse(conn, str(e))
            try:
                # Python's timeout bounds the whole sendall (Rust's SO_SNDTIMEO, each send).
                conn.settimeout(WRITE_TIMEOUT)
                conn.sendall(response)
            except OSError:
                return
# ANCHOR_END: connection


def serve(listener, args, exit_after=None, wakeup=None):
    active = threading.BoundedSemaphore(MAX_CONNECTIONS)
    served = 0
    workers = []
    while exit_after is None or served < exit_after:
        got = contract.accept_retrying(listener, say=lambda text: contract.say(args, text),
                                       wakeup=wakeup)
        if got is None:
            return  # a signal: stop at once (the connections' threads end with the process)
        conn, _ = got
        served += 1
        contract.say(args, f"accepted connection {served}")
        if not active.acquire(blocking=False):
            refuse_at_once(conn, f"busy: {MAX_CONNECTIONS} connections already")
            continue

        def work(conn=conn):
            try:
                serve_connection(conn, args)
            finally:
                active.release()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join()


def listen_unix(path, args):
    """AF_UNIX: a stale socket file is replaced, anything else at the path is left alone."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise contract.ContractError(f"{path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)
            contract.say(args, f"removed {path}: a stale socket file nobody listens on")
        else:
            raise contract.ContractError(f"{path} is in use: another server is listening on it")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the file is created rw------- : only its owner may connect
    try:
        sock.bind(path)
    except OSError as e:
        raise contract.ContractError(f"failed to bind {path}: {e.strerror or e}")
    finally:
        os.umask(old)
    sock.listen(16)
    return sock


def run_server(args):
    # SIGINT and SIGTERM wake the accept loop through a socket (lesson 05's watch_signals): a
    # handler that raised an exception would race with accept().
    wakeup, _signalled = pool.watch_signals()
    if args.unix:
        listener = listen_unix(args.unix, args)
        print(f"listening on {args.unix}", flush=True)
        try:
            serve(listener, args, args.exit_after, wakeup)
        finally:
            os.unlink(args.unix)  # the socket file goes with the server
    else:
        listener = contract.listen(args.host, args.port)
        contract.announce(listener)
        serve(listener, args, args.exit_after, wakeup)


# --- the client ------------------------------------------------------------------------------

def request(action, value):
    if action == "echo" and value is not None:
        return encode(BINARY, RAW, value.encode("utf-8"))
    body = {"action": action} if value is None else {"action": action, "value": value}
    return encode_json(body)


def show(header, content):
    if header["content-type"] != JSON:
        print(f"binary: {len(content)} bytes, crc32 {zlib.crc32(content):08x}", flush=True)
        return
    value = json.loads(content.decode("utf-8"))
    print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)
    if isinstance(value, dict) and "error" in value:
        raise contract.ContractError(f"the server refused the request: {value['error']}")


def requests(args):
    if args.action:
        yield args.action, args.value
        return
    for line in sys.stdin:
        line = line.rstrip("\r\n")
        action, _, value = line.partition(" ")
        if action:
            yield action, (value if _ else None)


# ANCHOR: talk
def talk(sock, pairs):
    for action, value in pairs:
        sock.sendall(request(action, value))
        frame = read_frame(sock)
        if frame is None:
            raise contract.ContractError("the server closed the connection without answering")
        show(*frame)
    sock.shutdown(socket.SHUT_WR)
    if read_frame(sock) is not None:
        raise contract.ContractError("the server sent a frame we did not ask for")
# ANCHOR_END: talk


def connect_unix(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise contract.ContractError(f"failed to connect to {path}: {e.strerror or e}")
    return sock


def run_client(args):
    sock = connect_unix(args.unix) if args.unix else contract.connect(args.host, args.port, timeout=30)
    with sock:
        talk(sock, requests(args))


def demo(args):
    listener = contract.listen("127.0.0.1", 0)
    host, port = listener.getsockname()[:2]
    server = threading.Thread(target=serve, args=(listener, args, 1))
    server.start()
    with contract.connect(host, port) as sock:
        talk(sock, [("search", "socket"), ("echo", "hello"), ("time", None)])
    server.join()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "08.sock")
        listener = listen_unix(path, args)
        server = threading.Thread(target=serve, args=(listener, args, 1))
        server.start()
        with connect_unix(path) as sock:
            talk(sock, [("search", "frame")])
        server.join()
    print(f"try: python3 {sys.argv[0]} server", file=sys.stderr)


def main():
    top, server, client = contract.parser("Lesson 08: a request/response protocol", 7008)
    for mode in (server, client):
        mode.add_argument("--unix", metavar="PATH")
    server.add_argument("--exit-after", type=int)
    server.add_argument("--frame-deadline-ms", type=int, default=FRAME_DEADLINE_MS, metavar="MS")
    client.add_argument("action", nargs="?")
    client.add_argument("value", nargs="?")
    args = top.parse_args()
    if args.mode == "server":
        run_server(args)
    elif args.mode == "client":
        run_client(args)
    else:
        demo(args)


if __name__ == "__main__":
    contract.run(main)
