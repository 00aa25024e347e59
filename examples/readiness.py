#!/usr/bin/env python3
"""Readiness, level-triggered and edge-triggered: what select, poll and epoll report.

    python3 examples/readiness.py

One connection on loopback; the client sends one line, which the server side never reads.
Asked three times whether that socket is readable, a level-triggered poller (select, poll,
Python's selectors, epoll by default) says yes every time: the data is still there. epoll with
EPOLLET (edge-triggered) says yes once, when the data arrives, and then nothing until more comes.
Linux only (epoll).
"""

# ANCHOR: program
import select
import selectors
import socket

listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
server_side, _ = listener.accept()
server_side.setblocking(False)  # an event loop never blocks: readiness says when to call
client.sendall(b"one line\n")

with selectors.DefaultSelector() as sel:  # epoll on Linux, kqueue on macOS, select on Windows
    sel.register(server_side, selectors.EVENT_READ)
    for attempt in (1, 2, 3):
        ready = sel.select(timeout=1)  # bounded: on loopback the line is there at once
        print(f"selectors ({type(sel).__name__}), call {attempt}: {len(ready)} ready")

edge = select.epoll()
edge.register(server_side.fileno(), select.EPOLLIN | select.EPOLLET)
for attempt in (1, 2, 3):
    ready = edge.poll(0.2)  # bounded; after the first call nothing new will come
    print(f"epoll with EPOLLET, call {attempt}: {len(ready)} ready")
edge.close()

print(f"the data is still unread: {server_side.recv(1024)!r}")
for sock in (server_side, client, listener):
    sock.close()
# ANCHOR_END: program
