"""A WSGI application served by waitress on loopback, in a daemon thread, for the tests."""

from __future__ import annotations

import threading
from typing import Any

from waitress.server import create_server


class LoopbackServer:
    """`app` on 127.0.0.1 (a free port), answered by `threads` waitress threads, until `stop()`."""

    def __init__(self, app: Any, *, threads: int = 4) -> None:
        self.server: Any = create_server(app, host="127.0.0.1", port=0, threads=threads)
        self.port: int = self.server.effective_port
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # waitress's own run() loops until its socket map is empty, which an open keep-alive connection
        # never lets happen, and closing the map from another thread left the loop in a 1 s select (a
        # wait at every teardown) or the join waiting out its 5 s: poll in short turns until asked to
        # stop, then close everything on this thread.
        server = self.server
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        server.task_dispatcher.shutdown()
        server.asyncore.close_all(server._map)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
