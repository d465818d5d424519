"""The Docker engine on this host: probe it, start it in the background, wait for it.

Our machines have no systemd, so when `dockerd` is installed but not running we start it
ourselves, detached, with its log in a file, and poll the API until it answers. The same
probe tells a laptop's Docker Desktop (or a CI runner's engine) apart: when an engine
already answers, setup only checks it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

DOCKERD_LOG = Path("/var/log/driftwood/dockerd.log")
DAEMON_JSON = Path("/etc/docker/daemon.json")
CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"
MIN_ENGINE = (26, 0)


@dataclass(frozen=True)
class EngineFacts:
    """What the engine reports about itself; `None` fields mean "not answering"."""

    server_version: str | None = None
    api_version: str | None = None
    containerd_store: bool = False
    buildx_version: str | None = None
    compose_version: str | None = None
    platforms: tuple[str, ...] = ()

    @property
    def answering(self) -> bool:
        return self.server_version is not None


def version_tuple(version: str | None) -> tuple[int, ...]:
    """`"26.1.5+dfsg1"` -> `(26, 1, 5)`; unparsable parts stop the tuple."""
    parts: list[int] = []
    for piece in (version or "").lstrip("v").split("+")[0].split("-")[0].split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def probe(docker: DockerClient) -> EngineFacts:
    """Ask the engine (whatever the client's context points at) what it is and can do.

    The five CLI calls run side by side: a second `invoke setup` is mostly this probe.
    """
    with ThreadPoolExecutor(max_workers=5) as pool:
        version = pool.submit(docker.version)
        info = pool.submit(docker.system.info)
        buildx = pool.submit(_plugin_version, docker, "buildx")
        compose = pool.submit(_plugin_version, docker, "compose")
        platforms = pool.submit(_builder_platforms, docker)
        try:
            server = version.result().server
            driver_status = [tuple(pair) for pair in (info.result().driver_status or [])]
        except DockerException:
            return EngineFacts()
        return EngineFacts(
            server_version=server.version if server else None,
            api_version=server.api_version if server else None,
            containerd_store=("driver-type", CONTAINERD_SNAPSHOTTER) in driver_status,
            buildx_version=buildx.result(),
            compose_version=compose.result(),
            platforms=platforms.result(),
        )


def _plugin_version(docker: DockerClient, plugin: str) -> str | None:
    """`docker buildx version` / `docker compose version` -> `"0.13.1"`, or None if absent."""
    try:
        text = docker.buildx.version() if plugin == "buildx" else docker.compose.version()
    except DockerException:
        return None
    match = re.search(r"v?(\d+\.\d+\.\d+)", text)
    return match.group(1) if match else None


def _builder_platforms(docker: DockerClient) -> tuple[str, ...]:
    """Platforms the default builder can run (native plus those QEMU's binfmt provides)."""
    try:
        builder = docker.buildx.inspect(bootstrap=False)
    except DockerException:
        return ()
    return tuple(sorted({str(p) for node in builder.nodes for p in node.platforms}))


def dockerd_path() -> str | None:
    return shutil.which("dockerd")


def start_dockerd(log: Path = DOCKERD_LOG) -> int:
    """Start `dockerd` detached from us (it outlives this process); return its pid."""
    path = dockerd_path()
    if path is None:
        raise FileNotFoundError("dockerd is not installed")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [path],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def wait_until_answering(docker: DockerClient, timeout: float = 60.0) -> EngineFacts:
    """Poll until the engine answers, or raise TimeoutError naming the log to read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            docker.version()
        except DockerException:
            time.sleep(0.5)
            continue
        return probe(docker)
    raise TimeoutError(
        f"the Docker engine did not answer within {timeout:.0f} s; see {DOCKERD_LOG}"
    )
