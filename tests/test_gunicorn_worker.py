"""The gunicorn worker refuses new connections once stopping, and still finishes its requests.

A real gunicorn on a loopback port with a one-route WSGI app: no Docker, a few seconds.
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SLOW_APP = """
import time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done"]
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    (tmp_path / "slow_app.py").write_text(SLOW_APP)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--chdir", str(tmp_path),
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "2",
            "--worker-class", "driftwood.gunicorn_worker.DrainingThreadWorker",
            "--graceful-timeout", "20", "--worker-tmp-dir", str(tmp_path),
            "--no-control-socket", "slow_app:app",
        ],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not answers(port):
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "gunicorn did not start listening in 30 s"
            time.sleep(0.1)
        yield server, port
    finally:
        server.kill()
        server.wait()
        if server.stderr:
            server.stderr.close()


def test_a_stopping_worker_refuses_new_connections_and_finishes_its_requests(gunicorn):
    server, port = gunicorn
    finished: list[int] = []

    def slow_request() -> None:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            client.request("GET", "/slow?4")
            finished.append(client.getresponse().status)
        finally:
            client.close()

    in_flight = threading.Thread(target=slow_request)
    in_flight.start()
    time.sleep(1)  # the request is in a worker thread
    server.send_signal(signal.SIGTERM)

    # Stock gthread keeps completing handshakes until it exits (4 s here): each of these
    # would then be reset with its request unanswered.
    deadline = time.monotonic() + 2
    while answers(port):
        assert time.monotonic() < deadline, "still accepting connections 2 s after SIGTERM"
        time.sleep(0.05)
    in_flight.join(timeout=30)
    assert finished == [200]
    assert server.wait(timeout=30) == 0
