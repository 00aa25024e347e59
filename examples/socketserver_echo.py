#!/usr/bin/env python3
"""Python's socketserver: lesson 02's echo server, and lesson 04's thread per connection, in a
dozen lines.

    python3 examples/socketserver_echo.py

socketserver does what lessons 01-05 do by hand: TCPServer makes the socket, binds, listens and
accepts; a RequestHandler's handle() serves one connection; a mix-in decides who runs it (the
accepting thread itself, a new thread, or a new process). Here, two clients at once, each served
by a thread of its own.
"""

# ANCHOR: program
import socket
import socketserver
import threading


class Echo(socketserver.StreamRequestHandler):
    """One connection: every line back (named by its thread), until the client's end of stream."""

    def handle(self):
        me = threading.current_thread().name  # which thread serves this connection
        for line in self.rfile:  # self.rfile / self.wfile: the accepted socket, as files
            self.wfile.write(f"{me} echoes {line.decode()}".encode())


# ThreadingTCPServer = ThreadingMixIn + TCPServer: a thread per connection (lesson 04).
# Port 0: the kernel picks a free port (see "Ephemeral ports and port 0").
with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as server:
    server.daemon_threads = True  # a stuck client must not keep the program alive at exit
    threading.Thread(target=server.serve_forever).start()  # the accept loop
    port = server.server_address[1]

    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    for n, client in enumerate(clients, 1):  # both connected before either is served
        client.sendall(f"hello from client {n}\n".encode())
        client.shutdown(socket.SHUT_WR)  # end of stream: the handler's loop ends
    for client in clients:
        with client, client.makefile() as answer:
            print(f"client {client.getsockname()[1]} got {answer.read()!r}")

    server.shutdown()  # stops serve_forever(), from another thread than the one running it
# ANCHOR_END: program
