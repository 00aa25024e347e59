#!/usr/bin/env python3
"""A non-blocking connect(): start it, wait until the socket is writable, then ask SO_ERROR.

    python3 examples/nonblocking_connect.py

Two connects on loopback: one to a port where a server listens, one to a port where nothing
does. Both return at once with EINPROGRESS; how each ended is known only afterwards.
"""

# ANCHOR: program
import errno
import os
import selectors
import socket

listener = socket.create_server(("127.0.0.1", 0))  # something to connect to, on a free port
open_port = listener.getsockname()[1]
# A port nobody listens on: one the kernel just handed out, closed again. (Another program
# could take it in between; on a test machine that is rare enough for an example.)
closed_port = socket.create_server(("127.0.0.1", 0))
refused_port = closed_port.getsockname()[1]
closed_port.close()

for port in (open_port, refused_port):
    sock = socket.socket()
    sock.setblocking(False)
    err = sock.connect_ex(("127.0.0.1", port))  # returns at once: the handshake goes on alone
    print(f"port {port}: connect_ex returned {errno.errorcode.get(err, err)}")
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_WRITE)  # writable = the handshake has ended
        ready = sel.select(timeout=5)  # bounded: a dropped SYN would take minutes
    if not ready:
        print("  no answer within 5 s")
        continue
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # how it ended: 0 or an errno
    print(f"  writable; SO_ERROR = {err} ({os.strerror(err) if err else 'connected'})")
    sock.close()
listener.close()
# ANCHOR_END: program
