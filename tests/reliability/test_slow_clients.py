"""Hostile clients against `harvester serve` (waitress, as configured by serve.server_options).

- Slowloris: 120 connections trickling header lines, one every 0.5 s. Before, waitress's
  default limit of 100 connections shut everyone out (0 of 5 Identify requests answered);
  now a normal client is answered throughout.
- Request bodies: a 300 MB POST (declared, or chunked) is answered 413 without being read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from catalog.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(tmp_path: Path) -> Iterator[str]:
    """`harvester serve` on a free loopback port, over an empty catalog; yields the /oai URL."""
    database = tmp_path / "catalog.db"
    with SQLiteStore(database):
        pass
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WCDA_OAI__CHANNEL_TIMEOUT": "20"}
    log = tmp_path / "serve.log"
    with open(log, "wb") as err:
        server = subprocess.Popen([sys.executable, "-m", "harvester", "--db", str(database), "serve", "--port",
                                   str(port)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}/oai"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url, params={"verb": "Identify"}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "harvester serve did not start"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        assert b"Traceback" not in log.read_bytes()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A server of its own (the slowloris test holds its connections)."""
    with _serve(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def shared_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module's single-request tests (each asks and is answered on its own connection)."""
    with _serve(tmp_path_factory.mktemp("serve")) as url:
        yield url


def _slowloris(port: int, count: int, stop: threading.Event, opened: list[socket.socket]) -> None:
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /oai?verb=Identify HTTP/1.1\r\nHost: x\r\n")
        opened.append(sock)
    n = 0
    while not stop.wait(0.5):  # one more header line on every connection, never the blank line
        n += 1
        for sock in opened:
            try:
                sock.sendall(f"X-Slow-{n}: a\r\n".encode())
            except OSError:
                pass


@pytest.mark.slow
def test_a_normal_client_is_answered_during_a_slowloris_attack(served: str) -> None:
    port = int(served.split(":")[2].split("/")[0])
    stop = threading.Event()
    opened: list[socket.socket] = []
    attack = threading.Thread(target=_slowloris, args=(port, 120, stop, opened), daemon=True)
    attack.start()
    try:
        deadline = time.monotonic() + 20
        while len(opened) < 120 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(opened) == 120
        time.sleep(1.0)  # the attack is trickling
        answered = 0
        for _ in range(5):
            response = httpx.get(served, params={"verb": "Identify"}, timeout=5)
            answered += response.status_code == 200 and b"<Identify>" in response.content
            time.sleep(0.3)
    finally:
        stop.set()
        attack.join(timeout=5)
        for sock in opened:
            sock.close()
    assert answered == 5  # before the fix: 0 of 5


def _send_head_and_read_status(port: int, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # the server may close as soon as it refused
        reply = b""
        try:
            while b"\r\n" not in reply and (chunk := sock.recv(4096)):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return reply.split(b"\r\n", 1)[0]


def test_a_huge_declared_body_is_refused_with_413(shared_served: str) -> None:
    port = int(shared_served.split(":")[2].split("/")[0])
    head = (b"POST /oai HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 300000000\r\n\r\n")
    status = _send_head_and_read_status(port, head, b"verb=Identify&" + b"a" * 100_000)
    assert status.startswith(b"HTTP/1.1 413"), status


def test_a_huge_chunked_body_is_refused_with_413(shared_served: str) -> None:
    port = int(shared_served.split(":")[2].split("/")[0])
    head = (b"POST /oai HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"a" * 65536
    body = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * 4
    status = _send_head_and_read_status(port, head, body)
    assert status.startswith(b"HTTP/1.1 413"), status


def test_a_small_post_is_still_served(shared_served: str) -> None:
    response = httpx.post(shared_served, data={"verb": "Identify"}, timeout=5)
    assert response.status_code == 200 and b"<Identify>" in response.content
