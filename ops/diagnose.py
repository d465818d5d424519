"""Why is a service down, restarting or flapping? One report per container of the stack.

What `docker ps` shows is the present; the cause is usually in the past. The report joins:
  - the container's state (`docker inspect`): status, health, exit code, restart count, and
    the OOMKilled flag, which the engine clears when the restart policy starts it again;
  - the engine's events for the last hour: `oom` (the kernel killed a process for exceeding
    the memory limit) and `die` with its exit code, which survive the restart;
  - the last log lines, where the process may have said what went wrong: a failure the log
    names (a rejected password, an unknown host) is the cause, whatever the exit code.
and names the most likely cause in one sentence, with the fix to look at.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import NoSuchContainer

from ops.stack import Stack

WINDOW = timedelta(hours=1)
LOG_LINES = 8
# Exit codes of a process ended by a signal: 128 + the signal's number.
SIGKILL_EXIT, SIGTERM_EXIT = 137, 143
# Failures a log line names, most specific first: the line's words, then what they mean.
NAMED_IN_LOGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r'password authentication failed for user "?[\w.-]+"?', re.I),
        "the secret differs from the password the database has (POSTGRES_PASSWORD or "
        "POSTGRES_PASSWORD_FILE is read only when its volume is empty: change it in the "
        "database first, then the secret)",
    ),
    (
        re.compile(r'could not translate host name "?[\w.-]+"?', re.I),
        "the database's name does not resolve: not on the same network, or not running",
    ),
    (
        re.compile(r"Driftwood cannot start", re.I),
        "the app refused its configuration: the log lines below say what to set",
    ),
    (
        re.compile(r"connection refused", re.I),
        "nothing listens at that address: the service is down or not ready yet",
    ),
)


def named_in_logs(lines: list[str]) -> str | None:
    """The failure the last log lines name, with what it means; None when none does."""
    for line in reversed(lines):
        for pattern, meaning in NAMED_IN_LOGS:
            found = pattern.search(line)
            if found:
                return f"{found[0]}: {meaning}"
    return None


@dataclass(frozen=True)
class Diagnosis:
    container: str
    service: str
    status: str
    health: str
    exit_code: int
    restarts: int
    oom_killed: bool  # as the engine reports it now (cleared by a restart)
    memory_limit_mb: float | None
    ooms: int  # `oom` events in the window: still known after a restart
    deaths: dict[int, int] = field(default_factory=dict)  # exit code -> times, in the window
    logs: list[str] = field(default_factory=list)

    @property
    def cause(self) -> str:
        """The most likely explanation of the container's state, and where to look."""
        limit = f"{self.memory_limit_mb:.0f} MB" if self.memory_limit_mb else "no limit"
        if self.oom_killed or self.ooms:
            return (
                f"out of memory: the kernel killed it {self.ooms or 1} time(s) at its limit"
                f" ({limit}); raise deploy.resources.limits.memory, or find what grows"
            )
        crashes = {code: n for code, n in self.deaths.items() if code not in (0, SIGTERM_EXIT)}
        if SIGKILL_EXIT in crashes:
            return "killed by SIGKILL (not out of memory): `docker kill`, or a process on the host"
        named = named_in_logs(self.logs)
        if named and (crashes or self.exit_code or self.health == "unhealthy"):
            return f"{named}; exit code {self.exit_code}, {self.restarts} restart(s)"
        if crashes:
            code, times = max(crashes.items(), key=lambda item: item[1])
            return f"crashed with exit code {code} ({times} time(s)): read the log lines below"
        if self.health == "unhealthy":
            return "running but failing its healthcheck: see the log lines and `docker inspect`"
        if self.status == "exited" and self.exit_code == 0:
            return "finished its job (exit 0)"
        if self.status == "running":
            return "running normally"
        return f"{self.status}, exit code {self.exit_code}"


def _events(docker: DockerClient, container: Container) -> tuple[int, Counter[int]]:
    """`oom` events and `die` exit codes of the container in the last WINDOW."""
    ooms, deaths = 0, Counter[int]()
    events = docker.system.events(
        since=WINDOW, until=timedelta(0), filters={"container": container.id}
    )
    for event in events:
        if event.action == "oom":
            ooms += 1
        elif event.action == "die":
            attributes = event.actor.attributes if event.actor else None
            deaths[int((attributes or {}).get("exitCode", -1))] += 1
    return ooms, deaths


def diagnose_container(docker: DockerClient, container: Container) -> Diagnosis:
    container = docker.container.inspect(container.id)
    state = container.state
    ooms, deaths = _events(docker, container)
    lines = [
        line.decode(errors="replace").rstrip()
        for _, line in docker.container.logs(container, tail=LOG_LINES, stream=True)
    ]
    memory = container.host_config.memory
    return Diagnosis(
        container=container.name,
        service=container.config.labels.get("com.docker.compose.service", container.name),
        status=state.status or "?",
        health=state.health.status if state.health else "-",
        exit_code=state.exit_code or 0,
        restarts=container.restart_count or 0,
        oom_killed=bool(state.oom_killed),
        memory_limit_mb=memory / 2**20 if memory else None,
        ooms=ooms,
        deaths=dict(deaths),
        logs=lines,
    )


def diagnose_named(docker: DockerClient, name: str) -> Diagnosis:
    """The diagnosis of one container by name, of any project."""
    try:
        container = docker.container.inspect(name)
    except NoSuchContainer as exc:
        raise LookupError(
            f"no container {name}: `docker ps -a` lists them (compose: PROJECT-SERVICE-N)"
        ) from exc
    return diagnose_container(docker, container)


def diagnose(stack: Stack, services: list[str] | None = None) -> list[Diagnosis]:
    """One diagnosis per container of the stack (or of `services`), one-shot jobs included."""
    client = stack.client()
    return [diagnose_container(client, c) for c in client.compose.ps(services or [], all=True)]


def render(diagnosis: Diagnosis) -> str:
    d = diagnosis
    lines = [
        f"{d.service} ({d.container}): {d.cause}",
        f"  status {d.status}, health {d.health}, exit code {d.exit_code}, "
        f"restarts {d.restarts}, OOMKilled {str(d.oom_killed).lower()}, "
        f"OOM kills in the last hour {d.ooms}",
    ]
    if d.deaths:
        exits = ", ".join(f"{code} x{n}" for code, n in sorted(d.deaths.items()))
        lines.append(f"  exits in the last hour: {exits}")
    lines += [f"  | {line}" for line in d.logs]
    return "\n".join(lines)
