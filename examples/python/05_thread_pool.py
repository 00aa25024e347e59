#!/usr/bin/env python3
"""Lesson 05 in Python: the echo server of lesson 02, served by a fixed pool of worker threads.

A complete, correct version of the lesson's contract. Grade it like any student's program:

    WORKBOOK_TARGET_05_THREAD_POOL="python3 examples/python/05_thread_pool.py" cargo test --test 05_thread_pool

Two designs, chosen with --model:
  accept  every worker calls accept() on the one listening socket (the course's design);
  queue   the main thread accepts and puts each connection on a bounded queue.Queue.
Graceful stop on SIGINT, SIGTERM or --exit-after K: stop accepting, finish every client already
accepted, join every worker, exit 0.
"""

import argparse
import importlib
import os
import queue
import select
import signal
import socket
import sys
import threading
import time

import contract

echo = importlib.import_module("02_echo")  # lesson 02's echo loop and client

QUEUE = 16  # connections the queue model holds for busy workers; then accept() waits too


def say(args, text):
    """contract.say, but one write per line, so lines from several threads never interleave."""
    if not getattr(args, "quiet", False):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


# ANCHOR: wake
class Stop:
    """A "stop accepting" flag, plus the wake-up a thread blocked in accept() needs: a
    connection to our own listening socket, once per thread that may be blocked there."""

    def __init__(self, listener, in_accept):
        host, port = listener.getsockname()[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        self.address = (host, port)
        self.in_accept = in_accept
        self.stopped = False

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        for _ in range(self.in_accept):
            try:
                socket.create_connection(self.address, timeout=1).close()
            except OSError:
                pass  # the listener is already closed: nobody is blocked in accept()
# ANCHOR_END: wake


# ANCHOR: shutdown
def watch_signals():
    """SIGINT and SIGTERM, made readable: every signal writes its number to a socket the main
    thread waits on with select().

    A Python signal handler runs only in the main thread, and only once the main thread runs
    Python code again: the C-level handler only sets a flag. A signal that lands after the main
    thread last checked that flag and before it blocks in accept() or join() interrupts nothing,
    and the handler waits for the next wake-up: the server misses the signal now and then.
    set_wakeup_fd() writes the signal number to a file descriptor from the C-level handler, so
    a main thread waiting on that descriptor with select() always wakes, whenever the signal
    came. (lessons/05_thread_pool.md#which-thread-gets-the-signal)"""
    readable, written = socket.socketpair()
    readable.setblocking(False)
    written.setblocking(False)
    signal.set_wakeup_fd(written.fileno())
    for signum in (signal.SIGINT, signal.SIGTERM):
        # The handler itself does nothing: the byte on the socket is what the main thread acts on.
        signal.signal(signum, lambda signum, frame: None)
    return readable, written  # keep both open: a closed end would read as a wake-up


SERVED = b"\x00"  # written by the server thread when it is done (0 is no signal's number)


def serve_until_stopped(listener, args, stop, signals):
    """Serve on a thread; the main thread waits for a signal or for the server's end. The first
    signal stops accepting (the clients already accepted are finished); a second one exits at
    once."""
    readable, written = signals

    def run():
        try:
            serve(listener, args, stop)
        finally:
            written.send(SERVED)

    server = threading.Thread(target=run, name="server")
    server.start()
    while True:
        select.select([readable], [], [])
        data = readable.recv(64)
        if SERVED in data:
            break
        if data:
            if stop.stopped:
                os._exit(130)
            stop.stop()
    server.join()
# ANCHOR_END: shutdown


def workers_for(args):
    return args.workers


def start_worker(name, target, args):
    thread = threading.Thread(target=target, args=args, name=name)
    thread.start()
    return thread


def join_workers(threads, stop):
    """Each worker finishes the client it is serving and returns; wait for every one."""
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # bounded: the main thread must get back to run a signal handler


def serve_client(conn, peer, args):
    name = threading.current_thread().name
    with conn:
        try:
            echo.limit_idle(conn, args)
            echo.echo_until_closed(conn, args.upper)
        except OSError as e:
            say(args, f"{name}: dropping {contract.show(peer)}: {e}")
    say(args, f"{name}: done with {contract.show(peer)}")


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = 0

    def next(self):
        with self.lock:
            self.accepted += 1
            return self.accepted


def accept(listener, args, stop):
    """accept(), waiting out a shortage of descriptors; None if stopped meanwhile."""
    return contract.accept_retrying(listener, lambda: stop.stopped, lambda text: say(args, text))


# ANCHOR: accept_model
def accept_worker(listener, counter, args, stop):
    """The accept model: accept, serve that client to the end, accept again."""
    name = threading.current_thread().name
    served = 0
    while not stop.stopped and (args.exit_after is None or counter.accepted < args.exit_after):
        try:
            accepted = accept(listener, args, stop)
        except OSError as e:
            say(args, f"{name}: accept() failed: {e}")
            stop.stop()
            break
        if accepted is None:  # asked to stop while waiting out a shortage of descriptors
            break
        conn, peer = accepted
        if stop.stopped:  # our own wake-up connection, or a client who came as we stopped
            conn.close()
            break
        n = counter.next()
        if args.exit_after is not None and n > args.exit_after:
            conn.close()
            break
        say(args, f"{name}: accepted connection {n} from {contract.show(peer)}")
        if args.exit_after == n:
            stop.stop()
        serve_client(conn, peer, args)
        served += 1
    say(args, f"{name}: stops after serving {served} client(s)")


def accept_model(listener, args, stop, workers):
    counter = Counter()
    threads = [
        start_worker(f"worker-{i}", accept_worker, (listener, counter, args, stop))
        for i in range(1, workers + 1)
    ]
    join_workers(threads, stop)
# ANCHOR_END: accept_model


# ANCHOR: queue_model
def queue_worker(jobs, args):
    """The queue model: take a connection from the queue, serve it, repeat until None."""
    name = threading.current_thread().name
    served = 0
    while (job := jobs.get()) is not None:
        conn, peer, n, queued = job
        waited = int((time.monotonic() - queued) * 1000)
        say(args, f"{name}: picked up connection {n} after {waited} ms in the queue")
        serve_client(conn, peer, args)
        served += 1
    say(args, f"{name}: stops after serving {served} client(s)")


def queue_model(listener, args, stop, workers):
    jobs = queue.Queue(maxsize=QUEUE)
    threads = [start_worker(f"worker-{i}", queue_worker, (jobs, args)) for i in range(1, workers + 1)]
    accepted = 0
    while not stop.stopped and (args.exit_after is None or accepted < args.exit_after):
        got = accept(listener, args, stop)
        if got is None:  # asked to stop while waiting out a shortage of descriptors
            break
        conn, peer = got
        if stop.stopped:
            conn.close()
            break
        accepted += 1
        say(args, f"accepted connection {accepted} from {contract.show(peer)}; {jobs.qsize()} waiting")
        jobs.put((conn, peer, accepted, time.monotonic()))  # blocks while the queue is full
    listener.close()  # clients still in the backlog are refused, not left hanging
    stop.stop()
    for _ in threads:
        jobs.put(None)  # one "no more work" per worker, after every real connection
    join_workers(threads, stop)
# ANCHOR_END: queue_model


MODELS = {"accept": accept_model, "queue": queue_model}


def serve(listener, args, stop):
    MODELS[args.model](listener, args, stop, workers_for(args))


def at_least_one(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}")
    if n < 1:
        raise argparse.ArgumentTypeError("a pool needs at least one worker")
    return n


def main():
    top, server, client = contract.parser("Lesson 05: an echo server with a fixed pool of workers", 7005)
    server.add_argument("--upper", action="store_true")
    server.add_argument("--exit-after", type=int)
    server.add_argument("--workers", type=at_least_one, default=4)
    server.add_argument("--model", choices=sorted(MODELS), default="accept")
    server.add_argument("--idle-timeout-ms", type=int, default=60000)
    client.add_argument("messages", nargs="*")
    args = top.parse_args()
    if args.mode == "server":
        listener = contract.listen(args.host, args.port)
        stop = Stop(listener, workers_for(args) if args.model == "accept" else 1)
        signals = watch_signals()
        contract.announce(listener)
        serve_until_stopped(listener, args, stop, signals)
    elif args.mode == "client":
        with contract.connect(args.host, args.port, timeout=30) as sock:
            for message in echo.messages(args):
                sys.stdout.buffer.write(echo.echo_one(sock, message))
                sys.stdout.flush()
            echo.finish(sock)
    else:
        demo()


def demo():
    """Two workers, three clients: the third waits until the first leaves."""
    args = argparse.Namespace(upper=False, exit_after=3, workers=2, model="accept", quiet=False,
                              idle_timeout_ms=60000)
    listener = contract.listen("127.0.0.1", 0)
    host, port = listener.getsockname()[:2]
    stop = Stop(listener, workers_for(args))
    server = threading.Thread(target=serve, args=(listener, args, stop))
    server.start()
    with contract.connect(host, port) as one, contract.connect(host, port) as two:
        print(echo.echo_one(one, b"Hello from client 1\n").decode(), end="", flush=True)
        print(echo.echo_one(two, b"Hello from client 2\n").decode(), end="", flush=True)
        with contract.connect(host, port) as three:
            # Both workers are busy: client 3's echo comes only once client 1 has left.
            replies = []
            waiting = threading.Thread(target=lambda: replies.append(echo.echo_one(three, b"Hello from client 3\n")))
            waiting.start()
            echo.finish(one)  # frees a worker, which accepts client 3
            waiting.join()
            print(b"".join(replies).decode(), end="", flush=True)
            echo.finish(three)
        echo.finish(two)
    server.join()
    print(f"try: python3 {sys.argv[0]} server --workers 2", file=sys.stderr)


if __name__ == "__main__":
    contract.run(main)
