"""A real HTTP server on loopback that plays the archive in tests.

Routes map a path to a list of canned answers, served in turn (the last one repeats),
so a test can script "429, then 200" or "503 twice, then a page". Every request is
logged with its headers and arrival time, so politeness (spacing, User-Agent,
conditional headers) is asserted on what really went over the socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (for timeouts)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float


Handler = Callable[["Seen"], Answer]


class ArchiveServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Answer] | Handler] = {}
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests being answered at once
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms a response on Linux loopback), which dominated the sync tests' time.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                with server._lock:
                    server.seen.append(seen)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    route = server.routes.get(self.path)
                    if route is None:
                        answer = Answer(404, b"<html><title>Page not found</title></html>")
                    elif callable(route):
                        answer = route(seen)
                    else:
                        answer = route.pop(0) if len(route) > 1 else route[0]
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    headers = {"Content-Type": "text/html; charset=utf-8", **answer.headers}
                    if "Content-Length" not in headers:
                        headers["Content-Length"] = str(len(answer.body))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default, in every test's teardown).
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def route(self, path: str, *answers: Answer | Handler) -> None:
        if len(answers) == 1 and callable(answers[0]):
            self.routes[path] = answers[0]
        else:
            self.routes[path] = list(answers)  # type: ignore[arg-type]

    def requests_for(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def __enter__(self) -> ArchiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
