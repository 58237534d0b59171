"""A stand-in for the national platform's endpoint: a real HTTP server on a free local
port that records each message once per ``Idempotency-Key`` (a repeated key is answered
200 and not recorded again), and can be told to fail the next requests or be stopped
and started again on the same port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from yibao.bench.server import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: dict[str, dict[str, Any]] = {}  # by Idempotency-Key
        self.bodies: dict[str, set[bytes]] = {}  # every distinct body sent with the key
        self.headers: dict[str, dict[str, str]] = {}  # the last headers sent with the key
        self.requests = 0
        self.duplicates = 0
        self._failures: list[int] = []  # statuses to answer the next requests with
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/national/v1/away-costs"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures = [status] * count

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Nothing listens on the port afterwards (connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def receive(self, key: str, body: bytes, headers: dict[str, str] | None = None) -> int:
        """The status to answer: a planned failure, else 200 (recorded once per key)."""
        with self._lock:
            self.requests += 1
            if self._failures:
                return self._failures.pop()
            self.bodies.setdefault(key, set()).add(body)
            self.headers[key] = headers or {}
            if key in self.messages:
                self.duplicates += 1
            else:
                self.messages[key] = json.loads(body)
            return 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            key = self.headers.get("idempotency-key", "")
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.receive(key, body, headers) if key else 400
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
