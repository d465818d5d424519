"""Checks every image task makes first, so a missing prerequisite is one clear sentence."""

from __future__ import annotations

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from ops.engine import MIN_ENGINE, version_tuple


class PreflightError(RuntimeError):
    """A prerequisite is missing; the message names it and the fix."""


def require_engine(docker: DockerClient) -> DockerClient:
    """The client, once its engine answers and is recent enough for BuildKit attestations."""
    try:
        server = docker.version().server
    except DockerException as exc:
        raise PreflightError(
            "no Docker engine answers (is dockerd running?): run `invoke setup`, or start "
            "Docker Desktop"
        ) from exc
    version = server.version if server else None
    if version_tuple(version) < MIN_ENGINE:
        wanted = ".".join(map(str, MIN_ENGINE))
        raise PreflightError(
            f"Docker Engine {version} is too old: {wanted} or newer is needed (buildx "
            "attestations, the containerd image store); run `invoke setup` to install it"
        )
    return docker
