"""invoke deploy's order of operations, against a fake engine: new beside old, time for
nginx to use it, old drained, then removed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER

from ops import deploy
from ops.stack import Stack, StackError


def container(name: str, image: str = "driftwood-app:old") -> Any:
    return SimpleNamespace(
        id=name, name=name, config=SimpleNamespace(image=image),
        state=SimpleNamespace(status="running", exit_code=0,
                              health=SimpleNamespace(status="healthy")),
    )  # fmt: skip


@dataclass
class FakeClient:
    """Just the calls replace_app makes, recorded in order."""

    running: dict[str, list[Any]]
    calls: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def compose(self) -> FakeClient:
        return self

    @property
    def container(self) -> FakeClient:
        return self

    def ps(self, services: list[str]) -> list[Any]:
        return list(self.running.get(services[0], []))

    def up(self, services: list[str], **options: Any) -> None:
        self.calls.append(("up", options))
        self.running["app"].append(container("app-2", "driftwood-app:new"))

    def stop(self, targets: list[Any], time: int) -> None:
        self.calls.append(("stop", [t.name for t in targets]))

    def remove(self, targets: list[Any]) -> None:
        self.calls.append(("remove", [t.name for t in targets]))
        self.running["app"] = [c for c in self.running["app"] if c not in targets]


def stack_with(client: FakeClient, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setattr(Stack, "client", lambda self: client)
    return Stack(Path(), prod=True)


def test_the_new_app_is_healthy_and_known_to_nginx_before_the_old_one_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = FakeClient({"app": [container("app-1")], "nginx": [container("nginx-1")]})
    monkeypatch.setattr(
        deploy.time, "sleep", lambda seconds: client.calls.append(("wait", seconds))
    )
    deploy.replace_app(stack_with(client, monkeypatch), show=lambda _: None)
    kinds = [kind for kind, _ in client.calls]
    assert kinds == ["up", "wait", "stop", "remove"]
    up = client.calls[0][1]
    assert up["scales"] == {"app": 2} and up["recreate"] is False and up["wait"] is True
    assert up["dependencies"] is False
    assert client.calls[1][1] == deploy.NGINX_SETTLE_S
    assert client.calls[2][1] == ["app-1"]


def test_a_stopped_stack_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient({"app": [], "nginx": []})
    with pytest.raises(StackError, match="invoke up"):
        deploy.replace_app(stack_with(client, monkeypatch), show=lambda _: None)
    assert client.calls == []


NGINX_HTTP_CONF = Path(__file__).resolve().parents[2] / "deploy/nginx/driftwood/http.conf"


def nginx_seconds(pattern: str) -> int:
    found = re.search(pattern, NGINX_HTTP_CONF.read_text())
    assert found, f"{pattern} not in {NGINX_HTTP_CONF}"
    return int(found[1])


def test_the_deploy_waits_out_nginx_s_dns_validity_and_fail_timeout() -> None:
    valid = nginx_seconds(r"resolver 127\.0\.0\.11 valid=(\d+)s")
    fail_timeout = nginx_seconds(r"server app:8000 resolve .*fail_timeout=(\d+)s")
    assert max(valid, fail_timeout) < deploy.NGINX_SETTLE_S


def test_nginx_closes_idle_app_connections_before_a_stopping_gunicorn_does() -> None:
    # gunicorn's own constant: if a new gunicorn changes it, this says so.
    assert nginx_seconds(r"upstream app \{[^}]*keepalive_timeout (\d+)s") < STOP_KEEPALIVE_LINGER
