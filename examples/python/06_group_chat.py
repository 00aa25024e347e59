#!/usr/bin/env python3
"""Lesson 06 in Python: a group chat that a stalled client cannot stall.

A complete, correct version of the lesson's contract (lessons/06_group_chat.md), built like the
Rust one: a reader thread and a writer thread per client, and between them a bounded outbox.
Grade it like any student's program:

    WORKBOOK_TARGET_06_GROUP_CHAT="python3 examples/python/06_group_chat.py" \
        cargo test --test 06_group_chat
"""

import argparse
import collections
import os
import selectors
import signal
import socket
import sys
import threading
import time

import contract

MAX_LINE = 4096  # bytes, without the \n (or \r\n)
MAX_NAME = 32  # characters
QUEUE_LINES = 256  # lines waiting in one client's outbox
SHUTTING_DOWN = "* server shutting down"
BYE = "* bye"  # the last line of a client that quits


# ANCHOR: outbox
class Outbox:
    """A bounded queue of lines for one client. queue.Queue cannot be closed (before Python
    3.13), and closing is how a writer learns it is done, so: a deque and a Condition."""

    def __init__(self):
        self.lines = collections.deque()
        self.open = True
        self.changed = threading.Condition()

    def push(self, line, patience):
        """'queued', 'closed', or 'stalled' when the queue stayed full for `patience` s."""
        deadline = time.monotonic() + patience
        with self.changed:
            while self.open and len(self.lines) >= QUEUE_LINES:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "stalled"
                self.changed.wait(left)
            if not self.open:
                return "closed"
            self.lines.append(line)
            self.changed.notify_all()
            return "queued"

    def take_all(self):
        """Wait for lines; an empty list means closed and drained."""
        with self.changed:
            while self.open and not self.lines:
                self.changed.wait()
            batch = list(self.lines)
            self.lines.clear()
            self.changed.notify_all()
            return batch

    def close(self, last=None):
        with self.changed:
            if self.open:
                if last is not None:
                    self.lines.append(last)
                self.open = False
            self.changed.notify_all()

    def abandon(self):
        with self.changed:
            self.lines.clear()
            self.open = False
            self.changed.notify_all()
# ANCHOR_END: outbox


def encode(text):
    return (text + "\n").encode()


NAME_RULE = f"! a name is 1 to {MAX_NAME} ASCII letters, digits, '-', '_' or '.', starting with a letter"
BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def valid_name(name):
    """ASCII only, a letter first: no look-alike letters from other scripts, no invisible
    characters, and nothing that looks like the address a client is named after (no ':')."""
    return (1 <= len(name) <= MAX_NAME and name.isascii() and name[0].isalpha()
            and all(c.isalnum() or c in "-_." for c in name))


def look_alike_key(name):
    """Names with the same key cannot both be in the room: case does not count, nor the ASCII
    characters a font can show alike (i, I, l, L and 1; o, O and 0)."""
    return "".join("l" if c in "iIlL1" else "o" if c in "oO0" else c.lower() for c in name)


def visible(text):
    """Control characters in caret notation (ESC -> ^[, CR -> ^M, DEL -> ^?), C1 controls and
    bidirectional overrides as U+FFFD: nothing a terminal would obey, the rest unchanged."""
    out = []
    for c in text:
        if c < " ":
            out.append("^" + chr(ord(c) ^ 0x40))
        elif c == "\x7f":
            out.append("^?")
        elif "\x80" <= c <= "\x9f" or c in BIDI:
            out.append("\ufffd")
        else:
            out.append(c)
    return "".join(out)


class Room:
    def __init__(self, args, stall):
        self.args = args
        self.stall = stall
        self.lock = threading.Lock()
        self.members = {}  # id -> [name, outbox, sock], in order of arrival
        self.writing = {}  # id -> sock, while its writer runs
        self.writers_done = threading.Condition()
        self.next_id = 0

    def say(self, text):
        contract.say(self.args, text)

    def admit(self, sock, peer):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name = contract.show(peer)
        outbox = Outbox()
        with self.lock:
            if len(self.members) >= self.args.max_clients:
                full = True
            else:
                full = False
                self.next_id += 1
                cid = self.next_id
                # Those present now, and only they, will hear that the newcomer joined.
                present = [(other, m[1]) for other, m in self.members.items()]
                # The welcome is queued before anyone can broadcast to the newcomer.
                outbox.push(encode(f"* welcome {name}, {len(self.members) + 1} online"), 0)
                self.members[cid] = [name, outbox, sock]
        if full:
            self.say(f"{name}: room full, turned away")
            try:
                sock.sendall(b"! server full\n")
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            return None
        with self.writers_done:
            self.writing[cid] = sock
        self.say(f"{name} joined")
        return cid, name, outbox, sock, present

    def name_of(self, cid):
        with self.lock:
            member = self.members.get(cid)
            return member[0] if member else None

    # ANCHOR: broadcast
    def broadcast(self, text, except_id=None):
        with self.lock:
            outboxes = [(cid, m[1]) for cid, m in self.members.items() if cid != except_id]
        self.deliver(outboxes, text)

    def deliver(self, outboxes, text):
        line = encode(text)
        for cid, outbox in outboxes:
            if outbox.push(line, self.stall) == "stalled":
                self.leave(cid, too_slow=True)
    # ANCHOR_END: broadcast

    def tell(self, cid, text):
        with self.lock:
            member = self.members.get(cid)
        if member and member[1].push(encode(text), self.stall) == "stalled":
            self.leave(cid, too_slow=True)

    def rename(self, cid, new):
        if not valid_name(new):
            return None, NAME_RULE
        with self.lock:
            if any(look_alike_key(m[0]) == look_alike_key(new) for m in self.members.values()):
                return None, f"! the name {new} is already in use"
            member = self.members.get(cid)
            if member is None:
                return None, "! you are not in the room"
            old, member[0] = member[0], new
            return old, None

    def refuse(self, cid, writing):
        """A client whose threads could not start: out of the room without a word to the others
        (they never heard it join), told `! server busy`, closed."""
        with self.lock:
            member = self.members.pop(cid, None)
        if member is None:
            return
        name, outbox, sock = member
        if writing:
            outbox.close(encode("! server busy"))  # its writer sends it last, then closes
            return
        try:
            sock.sendall(encode("! server busy"))
        except OSError:
            pass
        self.writer_done(cid, sock)

    def writer_done(self, cid, sock):
        """Close the connection (both ways: this wakes its reader too); shutdown stops waiting for it."""
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        with self.writers_done:
            self.writing.pop(cid, None)
            self.writers_done.notify_all()

    def who(self):
        with self.lock:
            return "* online: " + ", ".join(m[0] for m in self.members.values())

    def leave(self, cid, too_slow=False):
        with self.lock:
            member = self.members.pop(cid, None)
        if member is None:
            return  # someone else already told the room
        name, outbox, sock = member
        if too_slow:
            outbox.abandon()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            notice = f"* {name} left (too slow)"
        else:
            outbox.close()
            notice = f"* {name} left"
        self.say(notice)
        self.broadcast(notice)

    def wait_until_empty(self):
        """--exit-after K: the K are served until they leave, as any client; then we exit."""
        with self.writers_done:
            while self.writing:
                self.writers_done.wait()

    def close(self):
        """Shutdown: everyone's last line is the notice; wait (bounded) for the writers."""
        with self.lock:
            members, self.members = self.members, {}
        for _, outbox, _ in members.values():
            outbox.close(encode(SHUTTING_DOWN))
        deadline = time.monotonic() + self.stall + 1
        with self.writers_done:
            while self.writing and time.monotonic() < deadline:
                self.writers_done.wait(deadline - time.monotonic())
            for sock in self.writing.values():
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def read_line(reader):
    """("line", bytes without the ending), ("too long", rest_follows) or ("end", None)."""
    data = reader.readline(MAX_LINE + 2)  # a line, or MAX_LINE + 2 bytes of one
    if not data:
        return "end", None
    ended = data.endswith(b"\n")
    if ended:
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    if len(data) > MAX_LINE:
        return "too long", not ended
    return "line", data


def skip_line(reader):
    """Throw away the rest of an overlong line, 64 KiB at a time."""
    while True:
        data = reader.readline(65536)
        if not data or data.endswith(b"\n"):
            return


def act_on(room, cid, text):
    """A command or a message; False when the client quits."""
    if text == "quit":
        return bye(room, cid)
    if not text.startswith("/"):
        name = room.name_of(cid)
        if name is None:
            return False
        room.broadcast(f"[{name}] {visible(text)}")  # never a raw control to anyone's terminal
        return True
    word, _, argument = text[1:].partition(" ")
    if word == "quit":
        return bye(room, cid)
    if word == "who":
        room.tell(cid, room.who())
    elif word == "nick":
        new = argument.strip()
        old, error = room.rename(cid, new)
        if error:
            room.tell(cid, error)
        else:
            room.say(f"{old} is now {new}")
            room.broadcast(f"* {old} is now {new}")
    else:
        room.tell(cid, f"! unknown command /{visible(word)}")
    return True


def bye(room, cid):
    """`/quit` or `quit`: the sender's last line, after what is already queued for it (leaving
    closes its queue: the writer sends it all, then closes). False: the client quits."""
    room.tell(cid, BYE)
    return False


# ANCHOR: reader
def read_loop(room, cid, name, sock, present):
    room.deliver(present, f"* {name} joined")
    reader = sock.makefile("rb")  # buffered: readline() keeps what follows the \n for later
    try:
        while True:
            kind, data = read_line(reader)
            if kind == "end":
                break
            if kind == "too long":
                room.tell(cid, f"! line too long (max {MAX_LINE} bytes)")
                if data:
                    skip_line(reader)
            elif not act_on(room, cid, data.decode("utf-8", "replace")):
                break
    except OSError:
        pass  # a reset, or our own shutdown of a client that was too slow
    room.leave(cid)
# ANCHOR_END: reader


# ANCHOR: writer
def write_loop(room, cid, outbox, sock):
    try:
        while True:
            batch = outbox.take_all()
            if not batch:
                break
            sock.sendall(b"".join(batch))
    except OSError:
        room.leave(cid)
    room.writer_done(cid, sock)
# ANCHOR_END: writer


def start_thread(target, *args):
    threading.Thread(target=target, args=args, daemon=True).start()


def start_threads(room, client):
    """A writer and a reader for the client; if a thread cannot start (out of memory or of
    threads), that one client is refused with `! server busy` and the room goes on."""
    cid, name, outbox, sock, present = client
    writing = False
    try:
        start_thread(write_loop, room, cid, outbox, sock)
        writing = True
        start_thread(read_loop, room, cid, name, sock, present)
    except RuntimeError as e:  # "can't start new thread"
        room.say(f"{name}: {e}: refusing it with `! server busy`")
        room.refuse(cid, writing)


# ANCHOR: accept
def serve(listener, room, exit_after=None, wakeup=None):
    """Accept clients until a byte arrives on `wakeup` (a signal, or the demo's end); then tell
    every client and return. After `exit_after` connections, accept no more: the room goes on
    until its last client leaves, then return."""
    watch = selectors.DefaultSelector()
    watch.register(listener, selectors.EVENT_READ)
    if wakeup is not None:
        watch.register(wakeup, selectors.EVENT_READ)
    listener.setblocking(False)  # select() said "ready"; a client that left meanwhile must not block us
    accepted = 0
    backoff = contract.Backoff()
    try:
        while exit_after is None or accepted < exit_after:
            ready = [key.fileobj for key, _ in watch.select()]
            if wakeup in ready:
                break
            try:
                sock, peer = listener.accept()
            except BlockingIOError:
                continue
            except OSError as e:
                # Out of descriptors: a shortage that ends when a client leaves. Wait (for the
                # wake-up byte too), then try again; the room goes on meanwhile.
                wait = contract.shortage_wait(e, backoff, room.say)
                if wait is None:
                    continue
                if wakeup is None:
                    time.sleep(wait)
                    continue
                watch.unregister(listener)  # still "ready": watching it now would spin
                woken = watch.select(wait)  # the wake-up byte only (a new selector would need a descriptor)
                watch.register(listener, selectors.EVENT_READ)
                if woken:
                    break
                continue
            backoff.reset()
            sock.setblocking(True)
            accepted += 1
            client = room.admit(sock, peer)
            if client:
                start_threads(room, client)
        else:
            room.say(f"{accepted} connections accepted (--exit-after): no more accept()")
            room.wait_until_empty()
    finally:
        room.close()
# ANCHOR_END: accept


def stop_on_signals():
    """SIGINT and SIGTERM write a byte to a socket that serve() watches next to the listener.
    (A handler that raises an exception in the main thread would race with accept(): a signal
    that lands just before accept() blocks is only noticed when the next client arrives.)"""
    wakeup, signalled = socket.socketpair()
    wakeup.setblocking(False)
    signalled.setblocking(False)
    signal.set_wakeup_fd(signalled.fileno())

    def handler(signum, frame):
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return wakeup, signalled  # keep both open: a closed end would read as a wake-up


# ANCHOR: client
def client(args):
    sock = contract.connect(args.host, args.port)  # at most 10 s for connect() itself
    sock.settimeout(None)  # then a chat may be quiet for as long as it likes
    quitting = threading.Event()

    def printer():
        reader = sock.makefile("rb")
        while True:
            line = reader.readline(65536)
            if not line:
                break
            # Whatever the server sends, nothing on our terminal obeys it.
            text = line.decode("utf-8", "replace")
            sys.stdout.buffer.write(visible(text.removesuffix("\n")).encode() + b"\n")
            sys.stdout.flush()
        if not quitting.is_set():
            print("the server closed the connection", file=sys.stderr, flush=True)
            os._exit(0)

    thread = threading.Thread(target=printer, daemon=True)
    thread.start()
    try:
        if args.name:
            sock.sendall(f"/nick {args.name}\n".encode())
        ended = True
        for line in sys.stdin.buffer:
            sock.sendall(line)
            ended = line.endswith(b"\n")
        quitting.set()
        sock.sendall(b"/quit\n" if ended else b"\n/quit\n")
    except OSError:
        pass  # the printer sees the server go and says so
    wait_for_close(thread)


def wait_for_close(printer):
    """After /quit the server may still send lines: print them until it closes."""
    printer.join()
# ANCHOR_END: client


def demo(args):
    listener = contract.listen("127.0.0.1", 0)
    host, port = listener.getsockname()[:2]
    wakeup, stop = socket.socketpair()
    server = threading.Thread(target=serve, args=(listener, Room(args, 0.5), None, wakeup))
    server.start()

    def join(who):
        sock = contract.connect(host, port)
        return who, sock, sock.makefile("rb")

    def expect(client, n=1):
        for _ in range(n):
            print(f"{client[0]} <- {client[2].readline().decode()}", end="")

    ana = join("ana")
    expect(ana)
    ben = join("ben")
    expect(ben)
    expect(ana)  # ben joined
    ana[1].sendall(b"hello, room\n")
    expect(ana)
    expect(ben)
    ben[1].sendall(b"/quit\n")
    expect(ana)  # ben left
    stop.send(b"!")  # wakes serve(), as a signal would
    expect(ana)  # server shutting down
    server.join()
    print(f"try: python3 {sys.argv[0]} server", file=sys.stderr)


def positive(text):
    """A whole number of at least 1; anything else is a usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def main():
    top, server, client_mode = contract.parser("Lesson 06: a group chat", 7006)
    server.add_argument("--max-clients", type=positive, default=100)
    server.add_argument("--stall-timeout-ms", type=positive, default=5000)
    server.add_argument("--exit-after", type=positive)
    client_mode.add_argument("--name")
    args = top.parse_args()
    if args.mode == "server":
        listener = contract.listen(args.host, args.port)
        contract.announce(listener)
        wakeup, _signalled = stop_on_signals()
        serve(listener, Room(args, args.stall_timeout_ms / 1000), args.exit_after, wakeup)
    elif args.mode == "client":
        client(args)
    else:
        args.max_clients = 10
        demo(args)


if __name__ == "__main__":
    contract.run(main)
