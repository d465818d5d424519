"""The `driftwood` admin command, against the test database."""

import contextlib
import json
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy import URL, make_url
from sqlalchemy.exc import OperationalError

from driftwood import accounts, cli, create_app, library
from tests.conftest import TEST_SETTINGS

DATA = Path(__file__).parent.parent / "data" / "bookmarks"


@pytest.fixture(autouse=True)
def use_the_test_app(app, monkeypatch):
    monkeypatch.setattr(cli, "create_app", lambda: app)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_migrate_is_idempotent(capsys):
    assert run(capsys, "migrate")[0] == 0
    assert "up to date" in run(capsys, "migrate")[1]


def test_create_user_and_reset_password(session, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Lines("first password\n"))
    assert run(capsys, "create-user", "erin", "--password-stdin")[0] == 0
    user = accounts.get_user(session, "erin")
    assert accounts.check_password(user, "first password")
    monkeypatch.setattr("sys.stdin", _Lines("second password\n"))
    assert run(capsys, "reset-password", "ERIN", "--password-stdin")[0] == 0
    session.expire_all()
    assert accounts.check_password(user, "second password")
    monkeypatch.setattr("sys.stdin", _Lines("short\n"))
    code, _, err = run(capsys, "create-user", "frank", "--password-stdin")
    assert code == 2
    assert "at least 8 characters" in err


def test_import_dry_run_then_real_then_export(session, alice, capsys, tmp_path):
    code, out, _ = run(capsys, "import", str(DATA / "firefox.html"), "--user", "alice", "--dry-run")
    assert code == 0
    assert "would be added" in out
    assert library.count_bookmarks(session, library.owned_by(alice)) == 0
    code, out, _ = run(capsys, "import", str(DATA / "firefox.html"), "--user", "alice")
    stored = library.count_bookmarks(session, library.owned_by(alice))
    assert stored > 0
    assert f"{stored} were added" in out
    assert "rejected" in out
    code, out, _ = run(capsys, "export", "--user", "alice", "--format", "json")
    assert len(json.loads(out)["bookmarks"]) == stored
    target = tmp_path / "out.html"
    run(capsys, "export", "--user", "alice", "-o", str(target))
    assert target.read_text().count("<DT><A ") == stored


def test_unknown_user_is_a_one_line_error(capsys):
    code, _, err = run(capsys, "export", "--user", "nobody")
    assert code == 2
    assert err.strip() == "driftwood: no user named 'nobody'"


def test_healthcheck_fails_when_nothing_listens(capsys):
    assert (
        run(capsys, "healthcheck", "--url", "http://127.0.0.1:9/healthz", "--timeout", "1")[0] == 1
    )


class _Lines:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self.lines.pop(0) if self.lines else ""


class _StallingProxy:
    """A TCP proxy to the test database that accepts its first `stalled` connections and
    never answers on them (a database too busy to finish the handshake), then forwards."""

    def __init__(self, target: tuple[str, int], stalled: int) -> None:
        self.target = target
        self.stalled = stalled
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.forwarded: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if len(self.held) < self.stalled:
                self.held.append(client)
                continue
            upstream = socket.create_connection(self.target)
            self.forwarded += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        for connection in self.held + self.forwarded:
            connection.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _migrate_through(proxy: _StallingProxy, url: URL, capsys, monkeypatch):
    stalled = create_app({
        **TEST_SETTINGS,
        "DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port).render_as_string(False),
        "DATABASE_CONNECT_TIMEOUT": 2,
    })  # fmt: skip
    monkeypatch.setattr(cli, "create_app", lambda: stalled)
    try:
        return run(capsys, "migrate")
    finally:
        proxy.close()


def test_migrate_tries_again_when_the_first_handshake_times_out(database_url, capsys, monkeypatch):
    url = make_url(database_url)
    proxy = _StallingProxy((url.host or "127.0.0.1", url.port or 5432), stalled=1)
    code, out, err = _migrate_through(proxy, url, capsys, monkeypatch)
    assert code == 0 and "up to date" in out
    assert len(proxy.held) == 1
    assert err.count("trying again") == 1


def test_migrate_gives_up_on_a_database_that_never_answers(database_url, capsys, monkeypatch):
    monkeypatch.setattr(cli, "MIGRATE_CONNECT_PATIENCE_S", 1)
    url = make_url(database_url)
    proxy = _StallingProxy((url.host or "127.0.0.1", url.port or 5432), stalled=100)
    with pytest.raises(OperationalError, match="connection timeout expired"):
        _migrate_through(proxy, url, capsys, monkeypatch)
    assert len(proxy.held) == 1  # one 2 s attempt outlasted the patience
