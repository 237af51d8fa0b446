"""A scripted stand-in for Azure Resource Manager on a loopback port: the hooks' HTTP calls, answered.

Each (method, path) has a list of answers given in turn (the last one repeats). Every request is recorded
with its bearer token and body, so tests can check what the hooks asked Azure to do.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    body: dict[str, Any] | None


@dataclass
class FakeArm:
    url: str = ""
    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def answer(self, method: str, path: str, *answers: Answer) -> None:
        self.answers[(method, path)] = list(answers)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]


@contextmanager
def fake_arm() -> Iterator[FakeArm]:
    arm = FakeArm()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            arm.seen.append(
                Seen(self.command, parts.path, parse_qs(parts.query), self.headers.get("Authorization", ""),
                     json.loads(raw) if raw else None)
            )  # fmt: skip
            queue = arm.answers.get((self.command, parts.path))
            status, body, headers = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else (404, None, {})
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value.replace("{base}", arm.url))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    arm.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield arm
    finally:
        server.shutdown()
        server.server_close()
