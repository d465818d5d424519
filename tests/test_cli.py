"""The parts of the `driftwood` command that need no database."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from driftwood import cli


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *_args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_healthcheck_passes_on_200_and_fails_otherwise(server):
    assert cli.main(["healthcheck", "--url", f"{server}/healthz"]) == 0
    assert cli.main(["healthcheck", "--url", f"{server}/broken"]) == 1


def test_a_missing_setting_is_one_clear_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.delenv("DRIFTWOOD_SECRET_KEY", raising=False)
    monkeypatch.delenv("DRIFTWOOD_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("DRIFTWOOD_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:9/d")
    assert cli.main(["migrate"]) == 2
    assert "DRIFTWOOD_SECRET_KEY (or DRIFTWOOD_SECRET_KEY_FILE) is not set" in (
        capsys.readouterr().err
    )
