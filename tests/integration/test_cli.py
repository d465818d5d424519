"""The `driftwood` admin command, against the test database."""

import json
from pathlib import Path

import pytest

from driftwood import accounts, cli, library

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
