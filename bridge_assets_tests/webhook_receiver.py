"""A chat webhook on loopback for the alert tests: a real HTTP server that keeps what it receives.

It answers like Slack's incoming webhooks (200 "ok"), or with the statuses it is told to give next
(a 500, a 404), or slowly; it can be stopped and started again on the same port (a receiver down).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from typing import Iterator


class WebhookReceiver:
    def __init__(self, path: str = "/services/T0BRIDGE/B0ALERTS/s3cr3t-w3bh00k-t0k3n") -> None:
        self.path = path
        self.messages: list[dict] = []      # the JSON bodies answered 200
        self.requests = 0                   # every POST, whatever was answered
        self.next_statuses: list[int] = []  # answered first, one per request
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests += 1
                    status = receiver.next_statuses.pop(0) if receiver.next_statuses else 200
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                if self.path != receiver.path:
                    status = 404
                if status == 200:
                    with receiver._lock:
                        receiver.messages.append(json.loads(body))
                answer = b"ok" if status == 200 else b"no_service" if status == 404 else b"server_error"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]


@contextlib.contextmanager
def running_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
