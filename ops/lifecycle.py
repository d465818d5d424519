"""How containers stop and restart (chapter 03), measured rather than asserted.

- The PID 1 trap: `docker stop` sends SIGTERM to the container's PID 1, waits the stop
  timeout, then sends SIGKILL. A shell-form command (`sh -c "gunicorn ..."`) makes the shell
  PID 1; the shell neither handles SIGTERM nor passes it on, and the kernel drops signals to
  a PID 1 that has no handler, so the app is killed after the timeout: exit 137 (128 + 9).
  The exec form (`["gunicorn", ...]`) makes the app PID 1: it gets the signal and exits.
- Restart policies: `on-failure` restarts a container whose process exits non-zero (a crash)
  and leaves one that exits 0 (done) alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from python_on_whales import Container, DockerClient

from ops.lessons.probes import remove_container, wait_for


@dataclass(frozen=True)
class Stop:
    form: str
    pid1: str  # PID 1's command line, as `docker top` shows it
    seconds: float
    exit_code: int
    log: str  # what the process logged, up to its exit


def timed_stop(
    docker: DockerClient,
    name: str,
    form: str,
    image: str,
    command: Sequence[str],
    ready: Callable[[Container], bool],
    stop_timeout: int,
    **run: Any,
) -> Stop:
    """Start `command`, wait until `ready`, then time `docker stop` and read the exit code."""
    remove_container(docker, name)
    container = docker.run(
        image, list(command), detach=True, name=name, stop_timeout=stop_timeout, **run
    )
    try:
        wait_for(f"{name} ready", lambda: ready(container), timeout=60)
        pid1 = " ".join(docker.container.execute(name, ["cat", "/proc/1/cmdline"]).split("\0"))
        # Timed to the engine's own record of the exit, not to when the CLI returns.
        started = datetime.now(UTC)
        docker.container.stop(name)
        container.reload()
        seconds = (container.state.finished_at - started).total_seconds()
        exit_code = int(container.state.exit_code or 0)
        return Stop(form, pid1.strip(), round(seconds, 2), exit_code, container.logs())
    finally:
        remove_container(docker, name)


@dataclass(frozen=True)
class Restarts:
    exit_code: int
    restart_count: int
    status: str


def restart_behaviour(
    docker: DockerClient, image: str, name: str, exit_code: int, watch: float = 4.0
) -> Restarts:
    """Run a process that exits with `exit_code` under `--restart on-failure` and watch it
    for `watch` seconds: how often the engine restarted it and how it ended up."""
    remove_container(docker, name)
    docker.run(
        image,
        ["python3", "-c", f"raise SystemExit({exit_code})"],
        detach=True,
        name=name,
        restart="on-failure",
    )
    try:
        time.sleep(watch)  # the observation window: restarts come within ~0.1-1 s each
        found = docker.container.inspect(name)
        return Restarts(exit_code, int(found.restart_count or 0), str(found.state.status))
    finally:
        remove_container(docker, name)
