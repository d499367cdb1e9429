"""A real JWKS endpoint for the tests (issue 23), as an Auth Service
publishes its verifying keys.

Listens on 127.0.0.1:<port> (0 = any; the chosen port is printed first)
and answers `GET /.well-known/jwks.json` with the bytes of DOCUMENT,
read again on every request so a test rotates keys by rewriting the file
(no file: 503). Every request is counted: `GET /hits` answers the count,
so a test can check how often the service fetched.

Usage: python server.py DOCUMENT [port]
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCUMENT = sys.argv[1]
HITS = 0
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global HITS
        if self.path == "/hits":
            with LOCK:
                self.answer(200, str(HITS).encode(), "text/plain")
            return
        if self.path != "/.well-known/jwks.json":
            self.answer(404, b"{}")
            return
        with LOCK:
            HITS += 1
        try:
            with open(DOCUMENT, "rb") as source:
                body = source.read()
        except FileNotFoundError:
            self.answer(503, b'{"detail": "unavailable"}')
            return
        self.answer(200, body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
