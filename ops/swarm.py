"""The production Compose model as a Swarm stack file (`docker stack deploy`).

Swarm reads the same Compose format, but an older dialect with other rules: `docker stack
deploy` validates against the version-3 schema, builds nothing, ignores `depends_on` (there
is no start order, only restarts) and `security_opt`, and runs every service as replicated
tasks, so a one-shot job such as `migrate` would be restarted forever. `for_swarm()` keeps
what a stack understands from the interpolated model `docker compose config` prints; pure,
so it is unit tested without an engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The Compose file version whose schema `docker stack deploy` checks a file against.
STACK_VERSION = "3.9"
# Service keys a stack keeps as they are.
KEPT = (
    "image",
    "command",
    "entrypoint",
    "environment",
    "secrets",
    "volumes",
    "user",
    "read_only",
    "cap_drop",
    "stop_grace_period",
    "logging",
)
# Healthcheck keys of the version-3 schema (start_interval is newer).
HEALTHCHECK = ("test", "interval", "timeout", "retries", "start_period", "disable")

Model = dict[str, Any]


def for_swarm(model: Model, services: list[str], images: Mapping[str, str]) -> Model:
    """A stack file with `services` of the Compose `model`, images replaced per `images`
    (a stack runs registry images: every node pulls them)."""
    unknown = sorted(set(services) - set(model.get("services", {})))
    if unknown:
        raise ValueError(f"no such service in the Compose model: {', '.join(unknown)}")
    stack: Model = {"version": STACK_VERSION, "services": {}}
    networks: set[str] = set()
    secrets: set[str] = set()
    volumes: set[str] = set()
    for name in services:
        source = model["services"][name]
        service = {key: source[key] for key in KEPT if source.get(key) is not None}
        service["image"] = images.get(service["image"], service["image"])
        # tmpfs mounts in the version-3 form; the short `tmpfs:` list is ignored by stacks.
        service["volumes"] = [
            {k: v[k] for k in ("type", "source", "target") if k in v}
            for v in source.get("volumes", [])
        ] + [tmpfs_mount(entry) for entry in source.get("tmpfs", [])]
        service["secrets"] = [{"source": s["source"]} for s in source.get("secrets", [])]
        if "healthcheck" in source:
            check = source["healthcheck"]
            service["healthcheck"] = {k: check[k] for k in HEALTHCHECK if k in check}
        service["networks"] = sorted(source.get("networks", {}))
        limits = source.get("deploy", {}).get("resources", {}).get("limits", {})
        service["deploy"] = {
            "replicas": 1,
            # Swarm's own restarts replace `restart:` and stand in for `depends_on`.
            "restart_policy": {"condition": "any", "delay": "2s"},
            # The version-3 schema wants strings here; pids is not in it.
            "resources": {"limits": {k: str(limits[k]) for k in ("cpus", "memory") if k in limits}},
        }
        stack["services"][name] = service
        networks.update(service["networks"])
        secrets.update(s["source"] for s in service["secrets"])
        volumes.update(v["source"] for v in source.get("volumes", []) if v["type"] == "volume")
    stack["networks"] = {
        # Overlay networks span nodes; bridge driver options mean nothing to them.
        n: {"driver": "overlay", "internal": bool(model["networks"][n].get("internal"))}
        for n in sorted(networks)
    }
    stack["secrets"] = {s: {"file": model["secrets"][s]["file"]} for s in sorted(secrets)}
    stack["volumes"] = {v: {} for v in sorted(volumes)}
    return stack


def tmpfs_mount(entry: str) -> dict[str, Any]:
    """`/tmp:size=16m` (Compose's short form) as a version-3 tmpfs mount, size in bytes."""
    target, _, options = entry.partition(":")
    mount: dict[str, Any] = {"type": "tmpfs", "target": target}
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "size":
            units = {"k": 2**10, "m": 2**20, "g": 2**30}
            scale = units.get(value[-1:].lower(), 1)
            mount["tmpfs"] = {"size": int(value.rstrip("kmgKMG")) * scale}
    return mount
