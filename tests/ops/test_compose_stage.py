"""Chapter 08's compose stage without an engine: its .env, its files' startup order and
trap, and how a failed container's log is read."""

import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from ops.baseimages import load_lock
from ops.lessons import composestage

FILES = Path(__file__).resolve().parents[2] / "chapters" / "08-compose" / "files"


class ComposeLoader(yaml.SafeLoader):
    """Compose's merge tags (`!override`, `!reset`) read as the value they carry."""


ComposeLoader.add_constructor("!override", ComposeLoader.construct_mapping)


def load(name: str) -> dict[str, Any]:
    return yaml.load((FILES / name).read_text(), Loader=ComposeLoader)  # noqa: S506 (safe)


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return load("compose.yaml")


def test_fill_secrets_fills_only_empty_secret_lines() -> None:
    example = "# POSTGRES_PASSWORD= in a comment\nPORT=8008\nPOSTGRES_PASSWORD=\nOTHER=\n"
    filled = composestage.fill_secrets(example, {"POSTGRES_PASSWORD": "s3cret", "PORT": "1"})
    assert filled.splitlines() == [
        "# POSTGRES_PASSWORD= in a comment",
        "PORT=8008",
        "POSTGRES_PASSWORD=s3cret",
        "OTHER=",
    ]


def test_settings_are_made_once_private_and_kept(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text((FILES / ".env.example").read_text())
    settings = composestage.ensure_settings(tmp_path)
    values = dict(line.split("=", 1) for line in settings.read_text().splitlines() if "=" in line)
    assert all(len(values[name]) >= 32 for name in composestage.SECRETS)
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    first = settings.read_text()
    assert composestage.ensure_settings(tmp_path).read_text() == first


def test_env_example_declares_every_secret_empty() -> None:
    lines = (FILES / ".env.example").read_text().splitlines()
    assert all(f"{name}=" in lines for name in composestage.SECRETS)


def test_every_dependency_waits_for_a_state_not_a_start(base) -> None:
    conditions = {
        (name, dependency): spec["condition"]
        for name, service in base["services"].items()
        for dependency, spec in service.get("depends_on", {}).items()
    }
    assert conditions == {
        ("nginx", "app"): "service_healthy",
        ("app", "migrate"): "service_completed_successfully",
        ("migrate", "db"): "service_healthy",
        ("psql", "db"): "service_healthy",
    }


def test_the_trap_only_drops_the_jobs_health_condition() -> None:
    trap = load("compose.trap.yaml")
    assert trap == {
        "services": {"migrate": {"depends_on": {"db": {"condition": "service_started"}}}}
    }
    assert "!override" in (FILES / "compose.trap.yaml").read_text()


def test_only_nginx_publishes_and_the_tool_is_behind_a_profile(base) -> None:
    published = {name for name, service in base["services"].items() if service.get("ports")}
    assert published == {"nginx"}
    assert base["services"]["psql"]["profiles"] == ["tools"]
    assert all("profiles" not in s for n, s in base["services"].items() if n != "psql")


def test_base_image_defaults_follow_the_lock(base) -> None:
    for service, name in (("db", "postgres"), ("nginx", "nginx")):
        image = load_lock()[name]
        pinned = f"{image.ref}@{image.digest}" if image.digest else image.ref
        assert base["services"][service]["image"] == f"${{{image.variable}:-{pinned}}}"


def test_cause_is_the_exception_line_of_a_traceback() -> None:
    log = (
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in connect\n'
        "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) Connection refused\n"
        "\tIs the server running on that host?\n"
        "(Background on this error at: https://sqlalche.me/e/21/e3q8)\n"
    )
    assert composestage.stack.cause(log).endswith("Connection refused")
    assert composestage.stack.cause("starting\nstopped\n") == "stopped"
    assert composestage.stack.cause("") == "(nothing logged)"


def _scripted_starts(monkeypatch, *results: composestage.ColdStart) -> list[object]:
    """Make each cold start return the next of `results`; the list records the calls."""
    calls: list[object] = []
    queue = list(results)

    def once(run, services):
        calls.append(run)
        return queue.pop(0)

    monkeypatch.setattr(composestage, "_cold_start_once", once)
    return calls


@pytest.mark.parametrize(
    "fault",
    [
        "Error response from daemon: failed to create task for container: OCI runtime create "
        "failed: runc create failed: read init-p: connection reset by peer: unknown",
        'service "migrate" didn\'t complete successfully: exit 1 (driftwood-stage-08-migrate-1 '
        "exited 1: sqlalchemy.exc.OperationalError: (psycopg.errors.ConnectionTimeout) "
        "connection timeout expired)",
    ],
)
def test_a_cold_start_an_engine_fault_failed_is_made_again_and_the_fault_kept(monkeypatch, fault):
    calls = _scripted_starts(
        monkeypatch, composestage.ColdStart(3.0, fault), composestage.ColdStart(12.0)
    )
    start = composestage.cold_start("stack")  # type: ignore[arg-type]
    assert start == composestage.ColdStart(12.0, None, engine_fault=fault)
    assert len(calls) == 2


def test_a_cold_start_the_stack_failed_counts_as_it_is(monkeypatch):
    # A refused connection: the database was started but not ready (the trap's failure).
    failure = (
        'service "migrate" didn\'t complete successfully: exit 1 (migrate-1 exited 1: '
        'psycopg.OperationalError: connection to server at "db" (172.18.0.2), port 5432 '
        "failed: Connection refused)"
    )
    calls = _scripted_starts(monkeypatch, composestage.ColdStart(9.0, failure))
    assert composestage.cold_start("stack") == composestage.ColdStart(9.0, failure)  # type: ignore[arg-type]
    assert len(calls) == 1


def _stage_up(monkeypatch, tmp_path, failure: str) -> list[bool]:
    """ComposeStage.up with `docker compose up` failing once with `failure`; the builds asked."""
    builds: list[bool] = []

    def up(run, *, build, services=None):
        builds.append(build)
        if len(builds) == 1:
            raise composestage.stack.StackError(failure)

    monkeypatch.setattr(composestage.stack, "up", up)
    monkeypatch.setattr(composestage.ComposeStage, "prepare", lambda self, ctx, run: None)
    monkeypatch.setattr(composestage, "wait_for", lambda what, ready: None)
    stage = composestage.ComposeStage(number=8, port=8008)
    stage.up(SimpleNamespace(root=tmp_path))  # type: ignore[arg-type]
    return builds


def test_the_stage_comes_up_again_after_an_engine_fault(monkeypatch, tmp_path):
    fault = "migrate-1 exited 1: psycopg.errors.ConnectionTimeout: connection timeout expired"
    assert _stage_up(monkeypatch, tmp_path, fault) == [True, False]


def test_the_stage_fails_on_a_failure_of_its_own(monkeypatch, tmp_path):
    failure = "migrate-1 exited 1: Connection refused"
    with pytest.raises(composestage.stack.StackError, match=failure):
        _stage_up(monkeypatch, tmp_path, failure)
