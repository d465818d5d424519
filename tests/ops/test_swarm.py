"""The Compose model as a Swarm stack file: what `docker stack deploy` keeps and drops."""

import pytest

from ops.swarm import STACK_VERSION, for_swarm, tmpfs_mount

MODEL = {
    "name": "driftwood",
    "services": {
        "app": {
            "build": {"context": "."},
            "image": "driftwood-app:dev",
            "command": None,
            "depends_on": {"migrate": {"condition": "service_completed_successfully"}},
            "environment": {"PGTZ": "UTC"},
            "networks": {"frontend": None, "backend": None},
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "restart": "unless-stopped",
            "secrets": [{"source": "secret_key", "target": "/run/secrets/secret_key"}],
            "tmpfs": ["/tmp:size=16m"],
            "deploy": {"resources": {"limits": {"cpus": 1, "memory": "536870912", "pids": 128}}},
        },
        "db": {
            "image": "postgres@sha256:abc",
            "volumes": [{"type": "volume", "source": "db-data", "target": "/data", "volume": {}}],
            "networks": {"backend": None},
            "healthcheck": {"test": ["CMD", "true"], "interval": "10s", "start_interval": "1s"},
        },
    },
    "networks": {
        "frontend": {"name": "driftwood_frontend"},
        "backend": {
            "internal": True,
            "driver_opts": {"com.docker.network.bridge.inhibit_ipv4": "true"},
        },
    },
    "secrets": {"secret_key": {"name": "driftwood_secret_key", "file": "/abs/secret_key.txt"}},
    "volumes": {"db-data": {"name": "driftwood_db-data"}},
}


def test_stack_keeps_hardening_and_drops_what_swarm_ignores() -> None:
    stack = for_swarm(MODEL, ["db", "app"], {"driftwood-app:dev": "127.0.0.1:5000/app:1"})
    assert stack["version"] == STACK_VERSION
    app = stack["services"]["app"]
    assert app["image"] == "127.0.0.1:5000/app:1"
    assert app["read_only"] is True and app["cap_drop"] == ["ALL"]
    for dropped in ("build", "depends_on", "security_opt", "restart", "tmpfs", "command"):
        assert dropped not in app
    assert app["volumes"] == [{"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 16 * 2**20}}]
    assert app["deploy"]["resources"]["limits"] == {"cpus": "1", "memory": "536870912"}
    assert app["deploy"]["restart_policy"]["condition"] == "any"
    assert app["secrets"] == [{"source": "secret_key"}]
    db = stack["services"]["db"]
    assert db["healthcheck"] == {"test": ["CMD", "true"], "interval": "10s"}
    assert db["volumes"] == [{"type": "volume", "source": "db-data", "target": "/data"}]
    assert stack["networks"] == {
        "backend": {"driver": "overlay", "internal": True},
        "frontend": {"driver": "overlay", "internal": False},
    }
    assert stack["secrets"] == {"secret_key": {"file": "/abs/secret_key.txt"}}
    assert stack["volumes"] == {"db-data": {}}


def test_only_the_named_services_and_what_they_use() -> None:
    stack = for_swarm(MODEL, ["db"], {})
    assert list(stack["services"]) == ["db"]
    assert list(stack["networks"]) == ["backend"]
    assert stack["secrets"] == {}


def test_an_unknown_service_is_named() -> None:
    with pytest.raises(ValueError, match="nginx"):
        for_swarm(MODEL, ["nginx"], {})


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("/tmp", {"type": "tmpfs", "target": "/tmp"}),
        ("/run/pg:size=1m", {"type": "tmpfs", "target": "/run/pg", "tmpfs": {"size": 2**20}}),
        ("/x:mode=1777,size=2g", {"type": "tmpfs", "target": "/x", "tmpfs": {"size": 2 * 2**30}}),
    ],
)
def test_tmpfs_short_form(entry: str, expected: dict) -> None:
    assert tmpfs_mount(entry) == expected
