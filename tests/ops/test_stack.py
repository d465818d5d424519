"""ops.stack, ops.secrets and ops.backup logic, with no engine."""

import stat
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from python_on_whales.exceptions import DockerException

from ops import backup, secrets, stack


def test_secrets_are_generated_once_private_and_never_overwritten(tmp_path):
    directory = tmp_path / "secrets"
    created = secrets.ensure_secrets(directory)
    assert sorted(p.name for p in created) == ["db_password.txt", "secret_key.txt"]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    values = {p.name: p.read_text() for p in created}
    for path in created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
        assert len(path.read_text().strip()) >= 32
    assert secrets.ensure_secrets(directory) == []
    assert {p.name: p.read_text() for p in created} == values
    other = secrets.ensure_secrets(tmp_path / "other")
    assert {p.read_text() for p in other}.isdisjoint(values.values())


def test_a_replaced_secret_is_a_new_file_and_the_old_one_stays_readable(tmp_path):
    directory = tmp_path / "secrets"
    path = secrets.ensure_secrets(directory)[0]
    with path.open() as mounted:  # what a running container's bind mount holds
        secrets.replace_secret(path, "rotated")
        assert mounted.read() != "rotated\n"
    assert path.read_text() == "rotated\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert sorted(p.name for p in directory.iterdir()) == ["db_password.txt", "secret_key.txt"]


def test_tls_certificate_is_self_signed_once(tmp_path):
    made = secrets.ensure_tls_certificate(tmp_path / "secrets")
    assert [p.name for p in made] == ["tls.crt", "tls.key"]
    assert made[0].read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert secrets.ensure_tls_certificate(tmp_path / "secrets") == []


def test_layers_dev_or_prod(tmp_path):
    assert [p.name for p in stack.Stack(tmp_path).compose_files] == [
        "compose.yaml",
        "compose.override.yaml",
    ]
    assert [p.name for p in stack.Stack(tmp_path, prod=True).compose_files] == [
        "compose.yaml",
        "compose.prod.yaml",
    ]
    chapter = stack.Stack(tmp_path, layers=("compose.security.yaml",))
    assert [p.name for p in chapter.compose_files] == ["compose.yaml", "compose.security.yaml"]
    assert [p.name for p in stack.Stack(tmp_path, layers=()).compose_files] == ["compose.yaml"]


def test_env_files_user_settings_win_over_generated(tmp_path):
    s = stack.Stack(tmp_path)
    assert s.env_files == []
    stack.write_env_file(s.generated_env, {"DRIFTWOOD_HTTP_PORT": "1"})
    (tmp_path / ".env").write_text(
        "# comment\nDRIFTWOOD_HTTP_PORT=9090\nDRIFTWOOD_BIND='0.0.0.0'\n"
    )
    assert [p.name for p in s.env_files] == ["driftwood.env", ".env"]
    assert stack.settings(s)["DRIFTWOOD_HTTP_PORT"] == "9090"
    assert stack.url(s) == "http://127.0.0.1:9090/"
    assert stack.url(stack.Stack(tmp_path, prod=True)) == "https://127.0.0.1:8443/"


def test_first_user_instructions_follow_signup_setting(tmp_path):
    (tmp_path / ".env").write_text("DRIFTWOOD_SIGNUP_ENABLED=false\n")
    text = stack.first_user_instructions(stack.Stack(tmp_path))
    assert "create-user" in text and "signup" not in text
    (tmp_path / ".env").write_text("DRIFTWOOD_SIGNUP_ENABLED=true\n")
    assert "http://127.0.0.1:8080/signup" in stack.first_user_instructions(stack.Stack(tmp_path))


def _container(name, status, exit_code=0, health=None):
    state = SimpleNamespace(
        status=status,
        exit_code=exit_code,
        health=SimpleNamespace(status=health) if health else None,
    )
    return SimpleNamespace(name=name, state=state)


def test_unhealthy_accepts_healthy_services_and_finished_jobs():
    good = [
        _container("db", "running", health="healthy"),
        _container("migrate", "exited", 0),
        _container("tool", "running"),
    ]
    assert stack.unhealthy(good) == []
    bad = [
        _container("migrate", "exited", 1),
        _container("app", "running", health="starting"),
        _container("nginx", "restarting"),
    ]
    assert stack.unhealthy(bad) == [
        "migrate exited with code 1",
        "app is starting",
        "nginx is restarting",
    ]


class _FailingCompose:
    """`docker compose up` failing the way it does when a job exits non-zero."""

    def __init__(self, containers):
        self.containers = containers
        self.compose = self
        self.container = self

    def up(self, *args, **kwargs):
        raise DockerException(
            ["docker", "compose", "up"], 1,
            stderr=b' Container p-migrate-1  Started\nservice "migrate" didn\'t complete '
            b"successfully: exit 1\n",
        )  # fmt: skip

    def ps(self, *args, **kwargs):
        return self.containers

    def logs(self, name, tail, stream):
        assert name == "p-migrate-1"
        yield "stdout", b"Traceback (most recent call last):\n"
        yield "stderr", b'psycopg.OperationalError: failed to resolve host "db"\n'


def test_a_failed_up_names_the_container_and_what_it_logged(monkeypatch):
    failing = _FailingCompose(
        [_container("p-db-1", "running", health="healthy"), _container("p-migrate-1", "exited", 1)]
    )
    monkeypatch.setattr(stack.Stack, "client", lambda self: failing)
    with pytest.raises(stack.StackError) as failure:
        stack.up(stack.Stack(Path(), prod=True))
    assert str(failure.value) == (
        'service "migrate" didn\'t complete successfully: exit 1 (p-migrate-1 exited 1: '
        'psycopg.OperationalError: failed to resolve host "db")'
    )


def test_backup_and_restore_commands():
    name = backup.backup_name(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert name == "driftwood-20260102T030405Z.dump"
    assert backup.dump_command(name) == [
        "pg_dump",
        "--format=custom",
        "--file=/backups/driftwood-20260102T030405Z.dump",
    ]
    restore = backup.restore_command()
    assert restore[0] == "pg_restore"
    assert {"--clean", "--if-exists", "--single-transaction", "--exit-on-error"} <= set(restore)
    assert "--dbname=driftwood" in restore
    assert restore[-1] == backup.RESTORE_PATH


class FakeCompose:
    def __init__(self):
        self.calls = []

    def run(self, service, command, **options):
        self.calls.append(("run", service, command, options))

    def stop(self, services):
        self.calls.append(("stop", services))


def test_backup_runs_pg_dump_in_a_throwaway_backup_container(tmp_path, monkeypatch):
    compose = FakeCompose()
    monkeypatch.setattr(stack.Stack, "client", lambda self: SimpleNamespace(compose=compose))
    path = backup.backup(stack.Stack(tmp_path), datetime(2026, 1, 2, tzinfo=UTC))
    assert path == tmp_path / "backups" / "driftwood-20260102T000000Z.dump"
    assert path.parent.is_dir()
    (_, service, command, options) = compose.calls[0]
    assert service == "backup" and command[0] == "pg_dump"
    assert options["remove"] is True and options["tty"] is False


def test_restore_stops_the_app_restores_then_brings_it_back(tmp_path, monkeypatch):
    compose = FakeCompose()
    monkeypatch.setattr(stack.Stack, "client", lambda self: SimpleNamespace(compose=compose))
    ups = []
    monkeypatch.setattr(backup, "up", lambda s, build: ups.append(build))
    dump = tmp_path / "x.dump"
    dump.write_bytes(b"PGDMP")
    backup.restore(stack.Stack(tmp_path), dump)
    assert compose.calls[0] == ("stop", ["nginx", "app"])
    (_, _service, command, options) = compose.calls[1]
    assert command[0] == "pg_restore"
    assert options["volumes"] == [(dump.resolve(), backup.RESTORE_PATH, "ro")]
    assert ups == [False]
    with pytest.raises(FileNotFoundError):
        backup.restore(stack.Stack(tmp_path), Path(tmp_path / "missing.dump"))


def test_overrides_replace_the_users_env(tmp_path):
    (tmp_path / ".env").write_text("DRIFTWOOD_HTTP_PORT=9090\n")
    s = stack.Stack(tmp_path, project="t1", overrides=(("DRIFTWOOD_HTTP_PORT", "18080"),))
    stack.write_env_file(s.settings_file, dict(s.overrides))
    assert [p.name for p in s.env_files] == ["t1.settings.env"]
    assert stack.url(s) == "http://127.0.0.1:18080/"
