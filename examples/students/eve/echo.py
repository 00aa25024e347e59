"""Eve's echo server: the server half of lesson 02, written from scratch.

What works: the echo itself (every byte, as it arrives, --upper, IPv6). What does not, yet: no
client and no demo; errors (port in use, an unknown host, port 1, port 70000) escape as Python
tracebacks instead of one `error:` line.
"""
import argparse
import socket


def main():
    parser = argparse.ArgumentParser(description="Eve's echo server")
    modes = parser.add_subparsers(dest="mode", required=True)
    server = modes.add_parser("server")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=7002)
    server.add_argument("-q", "--quiet", action="store_true")
    server.add_argument("--upper", action="store_true")
    args = parser.parse_args()

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, args.port))
        listener.listen()
        host, port = listener.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"listening on {shown}:{port}", flush=True)
        while True:
            conn, _ = listener.accept()
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data.upper() if args.upper else data)


main()
