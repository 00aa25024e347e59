#!/usr/bin/env python3
"""Lesson 07 in Python: lesson 06's group chat, served by one thread with `selectors`.

A complete, correct version of the lesson's contract (lessons/07_event_loop.md, which is lesson
06's contract): every socket non-blocking, one selector that says which are ready, a read buffer
and a bounded write buffer per connection. The commands and the chat client are lesson 06's own
(imported from examples/python/06_group_chat.py). Grade it like any student's program:

    WORKBOOK_TARGET_07_EVENT_LOOP="python3 examples/python/07_event_loop.py" \
        cargo test --test 07_event_loop

Python's selectors are level-triggered: a socket is reported for as long as it is ready. So a
socket we do not want to hear about (input while the room is paused, writability with nothing to
send) must be taken out of the selector's interest, or the loop would spin.
"""

import importlib
import selectors
import socket
import sys
import threading
import time

import contract

chat = importlib.import_module("06_group_chat")  # the commands, names, client, signal wake-up

MAX_LINE = chat.MAX_LINE
WRITE_LIMIT = 64 * 1024  # bytes: past this a write buffer is full, and nobody's input is read
READ_CHUNK = 16 * 1024
SEND_BUFFER = 64 * 1024
SHUTTING_DOWN = chat.SHUTTING_DOWN


# ANCHOR: conn
class Conn:
    """One connection, and what the loop remembers about it between two wake-ups."""

    def __init__(self, sock, name):
        self.sock = sock
        self.name = name
        self.member = True
        self.inbox = bytearray()  # received, not yet a whole line
        self.skipping = False  # throwing away the rest of an overlong line
        self.outbox = bytearray()  # to send
        self.full_since = None  # when the write buffer went over WRITE_LIMIT
        self.close_by = None  # for a client that has left: close at the latest then
        self.events = 0  # what the selector watches for it
# ANCHOR_END: conn


class Room:
    """The room of lesson 06, kept by one thread: the methods chat.act_on calls, and the loop's
    bookkeeping."""

    def __init__(self, args, stall, selector):
        self.args = args
        self.stall = stall
        self.selector = selector
        self.conns = {}  # id -> Conn, in order of arrival
        self.members = 0
        self.next_id = 0
        self.full = set()  # ids whose write buffer is full: while any is, no input is read
        self.backlog = set()  # ids with whole lines not yet acted on (the room paused)
        self.dirty = set()  # ids with new output since the last flush

    def say(self, text):
        contract.say(self.args, text)

    # -- what the selector watches ----------------------------------------------------------

    # ANCHOR: watch
    def watch(self, cid):
        """Readable while a member and the room is not paused; writable while output waits."""
        conn = self.conns[cid]
        want = 0
        if not self.full and cid not in self.backlog:
            want |= selectors.EVENT_READ
        if conn.outbox:
            want |= selectors.EVENT_WRITE
        if want == conn.events:
            return
        if conn.events == 0:
            self.selector.register(conn.sock, want, cid)
        elif want == 0:
            self.selector.unregister(conn.sock)
        else:
            self.selector.modify(conn.sock, want, cid)
        conn.events = want

    def watch_all(self):
        for cid in list(self.conns):
            self.watch(cid)
    # ANCHOR_END: watch

    # -- the room ---------------------------------------------------------------------------

    def admit(self, sock, peer):
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        name = contract.show(peer)
        if self.members >= self.args.max_clients:
            self.say(f"{name}: the room is full: turning it away")
            try:
                sock.send(b"! server full\n")  # a new socket has room: never partial
            except OSError:
                pass
            sock.close()
            return
        self.next_id += 1
        cid = self.next_id
        conn = Conn(sock, name)
        self.members += 1
        conn.outbox += chat.encode(f"* welcome {name}, {self.members} online")
        self.broadcast(f"* {name} joined")
        self.conns[cid] = conn
        self.dirty.add(cid)
        self.watch(cid)
        self.say(f"{name} joined ({self.members} online)")

    def name_of(self, cid):
        conn = self.conns.get(cid)
        return conn.name if conn and conn.member else None

    def push(self, cid, data):
        conn = self.conns[cid]
        conn.outbox += data
        if conn.full_since is None and len(conn.outbox) > WRITE_LIMIT:
            conn.full_since = time.monotonic()
            was_paused = bool(self.full)
            self.full.add(cid)
            if not was_paused:
                self.watch_all()  # paused: stop watching everyone's input
        self.dirty.add(cid)  # sent by flush(), once per wake-up however many lines it holds

    def broadcast(self, text):
        data = chat.encode(text)
        for cid, conn in list(self.conns.items()):
            if conn.member:
                self.push(cid, data)

    def tell(self, cid, text):
        if cid in self.conns:
            self.push(cid, chat.encode(text))

    def who(self):
        return "* online: " + ", ".join(c.name for c in self.conns.values() if c.member)

    def rename(self, cid, new):
        if not chat.valid_name(new):
            return None, chat.NAME_RULE
        key = chat.look_alike_key(new)
        if any(c.member and chat.look_alike_key(c.name) == key for c in self.conns.values()):
            return None, f"! the name {new} is already in use"
        conn = self.conns[cid]
        old, conn.name = conn.name, new
        return old, None

    def not_full(self, cid):
        if cid in self.full:
            self.full.discard(cid)
            self.conns[cid].full_since = None
            if not self.full:
                self.watch_all()  # resume reading

    def leave(self, cid, too_slow=False):
        conn = self.conns.get(cid)
        if conn is None or not conn.member:
            return
        conn.member = False
        self.members -= 1
        self.backlog.discard(cid)
        if too_slow:
            self.close(cid)
            notice = f"* {conn.name} left (too slow)"
        else:
            conn.close_by = time.monotonic() + self.stall  # send what is queued, then close
            self.not_full(cid)
            if not conn.outbox:
                self.close(cid)
            notice = f"* {conn.name} left"
        self.say(notice)
        self.broadcast(notice)

    def close(self, cid):
        if cid in self.full:
            self.not_full(cid)  # (resumes reading, before this connection is forgotten)
        conn = self.conns.pop(cid, None)
        if conn is None:
            return
        self.backlog.discard(cid)
        if conn.events:
            self.selector.unregister(conn.sock)
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.sock.close()

    # -- input ------------------------------------------------------------------------------

    def readable(self, cid):
        """One recv (the selector said it will not wait), then act on the whole lines."""
        conn = self.conns[cid]
        try:
            data = conn.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = None  # a reset
        if not conn.member:
            if not data:
                self.close(cid)
            return  # a client that has left: what it still sends is thrown away
        if not data:
            if conn.inbox and not conn.skipping:
                chat.act_on(self, cid, conn.inbox.decode("utf-8", "replace"))
            self.leave(cid)
            return
        conn.inbox += data
        self.take_lines(cid)

    def take_lines(self, cid):
        """Act on each whole line in the read buffer, while the room is not paused."""
        conn = self.conns[cid]
        while conn.member:
            if self.full:
                self.backlog.add(cid)  # the rest waits for room
                self.watch(cid)
                return
            kind, data = next_line(conn)
            if kind is None:
                break
            if kind == "too long":
                self.tell(cid, f"! line too long (max {MAX_LINE} bytes)")
            elif not chat.act_on(self, cid, data.decode("utf-8", "replace")):
                self.leave(cid)
                return
        if cid in self.backlog:
            self.backlog.discard(cid)
            if cid in self.conns:
                self.watch(cid)

    # -- output -----------------------------------------------------------------------------

    # ANCHOR: writable
    def writable(self, cid):
        """send() until the kernel's buffer is full (a partial write); the rest waits."""
        conn = self.conns[cid]
        try:
            while conn.outbox:
                sent = conn.sock.send(conn.outbox)
                del conn.outbox[:sent]
        except BlockingIOError:
            pass
        except OSError:
            conn.outbox.clear()
            self.leave(cid)
            self.close(cid)
            return
        if len(conn.outbox) <= WRITE_LIMIT:
            self.not_full(cid)
        if not conn.member and not conn.outbox:
            self.close(cid)
        elif cid in self.conns:
            self.watch(cid)

    def flush(self):
        """Try to send every buffer that changed; ask for writability only for what is left."""
        while self.dirty:
            cid = self.dirty.pop()
            if cid in self.conns:
                self.writable(cid)
    # ANCHOR_END: writable

    def deadlines(self):
        """Drop clients whose buffer stayed full for the stall timeout; close late leavers."""
        now = time.monotonic()
        for cid, conn in list(self.conns.items()):
            if conn.member and conn.full_since is not None and now >= conn.full_since + self.stall:
                self.say(f"{conn.name}'s write buffer stayed full: it has stopped reading")
                self.leave(cid, too_slow=True)
            elif not conn.member and conn.close_by is not None and now >= conn.close_by:
                self.close(cid)

    def timeout(self):
        if self.backlog and not self.full:
            return 0
        times = [c.full_since + self.stall for c in self.conns.values() if c.full_since is not None]
        times += [c.close_by for c in self.conns.values() if c.close_by is not None]
        return max(0.0, min(times) - time.monotonic()) + 0.001 if times else None


def next_line(conn):
    """("line", bytes), ("too long", None) or (None, None) when no whole line has arrived."""
    if conn.skipping:
        at = conn.inbox.find(b"\n")
        if at < 0:
            conn.inbox.clear()
            return None, None
        del conn.inbox[: at + 1]
        conn.skipping = False
    at = conn.inbox.find(b"\n", 0, MAX_LINE + 2)
    if at < 0:
        if len(conn.inbox) >= MAX_LINE + 2:
            conn.inbox.clear()
            conn.skipping = True
            return "too long", None
        return None, None
    line = bytes(conn.inbox[:at])
    del conn.inbox[: at + 1]
    if line.endswith(b"\r"):
        line = line[:-1]
    if len(line) > MAX_LINE:
        return "too long", None
    return "line", line


# ANCHOR: serve
def serve(listener, args, stall, exit_after=None, wakeup=None):
    """The loop: select, then do what each ready socket allows, without waiting."""
    selector = selectors.DefaultSelector()
    room = Room(args, stall, selector)
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, "listener")
    if wakeup is not None:
        selector.register(wakeup, selectors.EVENT_READ, "wakeup")
    accepted = 0
    running = True
    accepting = True  # until --exit-after's K-th connection; then the room goes on until empty
    backoff, accept_again = contract.Backoff(), None  # out of descriptors: when to try again
    while running and (accepting or room.conns):
        timeout = room.timeout()
        if accept_again is not None:
            left = max(0.0, accept_again - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
            if left == 0.0:
                selector.register(listener, selectors.EVENT_READ, "listener")
                accept_again = None
        ready = selector.select(timeout)
        # ANCHOR_END: serve

        # ANCHOR: serve_events
        for key, events in ready:
            if key.data == "wakeup":
                running = False
            elif key.data == "listener":
                while running and accepting:
                    try:
                        sock, peer = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:
                        wait = contract.shortage_wait(e, backoff, room.say)
                        if wait is None:
                            continue
                        # Out of descriptors: the listener stays "ready", so stop watching it
                        # for a backoff (10 ms doubling to 1 s) instead of spinning.
                        selector.unregister(listener)
                        accept_again = time.monotonic() + wait
                        break
                    backoff.reset()
                    accepted += 1
                    room.admit(sock, peer)
                    if exit_after is not None and accepted >= exit_after:
                        room.say(f"{accepted} connections accepted (--exit-after): no more accept()")
                        accepting = False
                        selector.unregister(listener)
            elif key.data in room.conns:
                if events & selectors.EVENT_READ:
                    room.readable(key.data)
                if events & selectors.EVENT_WRITE and key.data in room.conns:
                    room.writable(key.data)
        for cid in list(room.backlog):
            if not room.full and cid in room.conns:
                room.take_lines(cid)
        room.flush()
        room.deadlines()
    if accept_again is None and accepting:
        selector.unregister(listener)
    listener.close()
    if running:
        return  # --exit-after: the last client has left
    shut_down(room)
# ANCHOR_END: serve_events

def shut_down(room):
    """Every member gets the notice; send (only) until all is sent or the stall timeout."""
    room.say(f"shutting down: telling {room.members} client(s)")
    room.broadcast(SHUTTING_DOWN)
    deadline = time.monotonic() + room.stall + 1
    room.full.clear()
    room.backlog.clear()
    for cid, conn in room.conns.items():
        conn.member = False
        conn.full_since = None
        conn.close_by = deadline
        room.watch(cid)
    room.members = 0
    room.flush()
    while True:
        for cid, conn in list(room.conns.items()):
            if not conn.outbox:
                room.close(cid)  # all sent: close now, not at the next event
        if not room.conns or time.monotonic() >= deadline:
            break
        for key, events in room.selector.select(deadline - time.monotonic()):
            if key.data not in room.conns:
                continue
            if events & selectors.EVENT_READ:
                room.readable(key.data)
            if events & selectors.EVENT_WRITE and key.data in room.conns:
                room.writable(key.data)
        room.flush()
    for cid in list(room.conns):
        room.close(cid)


def demo(args):
    listener = contract.listen("127.0.0.1", 0)
    host, port = listener.getsockname()[:2]
    wakeup, stop = socket.socketpair()
    server = threading.Thread(target=serve, args=(listener, args, 0.5, None, wakeup))
    server.start()

    def join(who):
        sock = contract.connect(host, port)
        return who, sock, sock.makefile("rb")

    def expect(client, n=1):
        for _ in range(n):
            print(f"{client[0]} <- {client[2].readline().decode()}", end="")

    ana = join("ana")
    expect(ana)
    sil = join("sil")  # sends half a line, then nothing: nobody waits for it
    expect(sil)
    expect(ana)
    sil[1].sendall(b"hel")
    ana[1].sendall(b"hello, room\n")
    expect(ana)
    expect(sil)
    sil[1].sendall(b"lo\n")
    expect(ana)
    expect(sil)
    stop.send(b"!")  # wakes the loop, as a signal would
    expect(ana)
    expect(sil)
    server.join()
    print(f"try: python3 {sys.argv[0]} server", file=sys.stderr)


def main():
    top, server, client_mode = contract.parser("Lesson 07: the group chat on one thread", 7007)
    server.add_argument("--max-clients", type=chat.positive, default=100)
    server.add_argument("--stall-timeout-ms", type=chat.positive, default=5000)
    server.add_argument("--exit-after", type=chat.positive)
    client_mode.add_argument("--name")
    args = top.parse_args()
    if args.mode == "server":
        listener = contract.listen(args.host, args.port, backlog=1024)
        contract.announce(listener)
        wakeup, _signalled = chat.stop_on_signals()
        serve(listener, args, args.stall_timeout_ms / 1000, args.exit_after, wakeup)
    elif args.mode == "client":
        chat.client(args)
    else:
        args.max_clients = 10
        demo(args)


if __name__ == "__main__":
    contract.run(main)
