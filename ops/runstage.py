"""Run a stage: its compose stack, or (early chapters) its single container; stop; logs.

The final stage at the repository root is the production stack, which ops.stack runs;
chapter stages with compose files get their own project name so stages never collide.
A single-container stage publishes its port on 127.0.0.1 and is waited on until the
engine reports it healthy.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import NoSuchContainer

from ops import stack
from ops.build import local_tag
from ops.stages import Stage

HEALTH_TIMEOUT = 90.0


class RunError(RuntimeError):
    """The stage did not become healthy; the message says what it reported."""


def container_name(stage: Stage) -> str:
    return f"driftwood-stage-{stage.name}"


def project_name(stage: Stage) -> str:
    return f"driftwood-stage-{stage.name}"


def is_final(stage: Stage, project_root: Path) -> bool:
    """The production stage: the root manifest of Driftwood itself. In a learner's checkout of
    a chapter, the root manifest is that chapter's, which is not the production stack."""
    return stage.root == project_root and stage.name == "final"


def _compose(stage: Stage) -> DockerClient:
    return DockerClient(
        compose_files=list(stage.compose_files),
        compose_project_name=project_name(stage),
        compose_project_directory=stage.root,
    )


def wait_healthy(container: Container, timeout: float = HEALTH_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        state = container.state
        if state.status != "running":
            raise RunError(
                f"{container.name} is {state.status} (exit {state.exit_code}): "
                f"see `invoke stage.logs`"
            )
        health = state.health.status if state.health else "healthy"  # no healthcheck: running
        if health == "healthy":
            return
        if health == "unhealthy":
            raise RunError(f"{container.name} is unhealthy: see `invoke stage.logs`")
        time.sleep(0.5)
    raise RunError(f"{container.name} was not healthy after {timeout:.0f} s")


def start(
    docker: DockerClient,
    stage: Stage,
    project_root: Path,
    image: str | None = None,
    production: stack.Stack | None = None,
) -> str:
    """Bring the stage up and wait for health; return its URL. `image` overrides the
    stage's local tag (a verified digest reference, for one); `production` runs the final
    stage under other settings than the user's (a test's own project and ports)."""
    if is_final(stage, project_root):
        production = production or stack.Stack(project_root, prod=True)
        stack.prepare(production, docker)
        if image:
            _use_verified_app(docker, stage, production, image)
        stack.up(production, build=image is None)
        return stack.url(production)
    if stage.compose_files:
        _compose(stage).compose.up(detach=True, build=True, wait=True, quiet=True)
        return stage.run.url
    stop(docker, stage, project_root)
    host_port = urlparse(stage.run.url).port or stage.run.port
    container = docker.run(
        image or local_tag(stage),
        detach=True,
        name=container_name(stage),
        publish=[("127.0.0.1:" + str(host_port), stage.run.port)],
        read_only=stage.run.read_only,
        cap_drop=list(stage.run.cap_drop),
        # A read-only root still needs a scratch /tmp: in memory, gone with the container.
        tmpfs=["/tmp"] if stage.run.read_only else [],  # noqa: S108 (a mount point)
    )
    wait_healthy(container)  # type: ignore[arg-type]
    return stage.run.url


def _use_verified_app(
    docker: DockerClient, stage: Stage, production: stack.Stack, image: str
) -> None:
    """Make the stack run exactly the verified digest: pulled by digest, tagged under a tag
    of its own (compose reads DRIFTWOOD_TAG from the environment before any env file), and
    never rebuilt; only nginx, which carries no app code of its own to verify, is built."""
    tag = "verified-" + image.rpartition("@sha256:")[2][:12]
    docker.image.pull(image, quiet=True)
    docker.image.tag(image, f"{stage.image}:{tag}")
    os.environ["DRIFTWOOD_TAG"] = tag
    production.client().compose.build([stage.run.service or "nginx"], quiet=True)


def stop(docker: DockerClient, stage: Stage, project_root: Path) -> None:
    if is_final(stage, project_root):
        stack.down(stack.Stack(project_root, prod=True))
    elif stage.compose_files:
        _compose(stage).compose.down(remove_orphans=True)
    else:
        with contextlib.suppress(NoSuchContainer):  # not running: nothing to stop
            docker.container.remove(container_name(stage), force=True)


def logs(
    docker: DockerClient, stage: Stage, project_root: Path, tail: str = "200"
) -> Iterator[str]:
    if is_final(stage, project_root) or stage.compose_files:
        client = (
            stack.Stack(project_root, prod=True).client()
            if is_final(stage, project_root)
            else _compose(stage)
        )
        stream = client.compose.logs(tail=tail, stream=True)
    else:
        stream = docker.container.logs(container_name(stage), tail=int(tail), stream=True)
    for _source, line in stream:  # type: ignore[misc]
        yield line.decode(errors="replace")
