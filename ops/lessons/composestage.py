"""Chapter 08's stage (and the compose stages after it): the stack declared in the stage's
compose files, run with `docker compose` through ops.stack under the project
`driftwood-stage-NN`.

What `docker compose` reads, in the stage's folder: compose.yaml, then compose.override.yaml
(development); for interpolation, the generated variables (pinned base images, version
stamps, the CA bundle for builds: .cache/<project>.env) and then the stage's .env, made on
first run from .env.example with its two secrets filled in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from ops import stack
from ops.lessons import LessonContext
from ops.lessons.probes import generated_secret, http_status, wait_for

TRAP_FILE = "compose.trap.yaml"
SETTINGS = ".env"
EXAMPLE = ".env.example"
# Failures of the engine under the stack, not of its startup order, by what they print:
ENGINE_FAULTS = (
    # The OCI runtime could not start a container's process. runc 1.1 on our CI hosts does
    # that now and then ("read init-p: connection reset by peer", several times a day of
    # thousands of container starts).
    "OCI runtime create failed",
    # The migration job got no answer at all from the database's address for 30 s although
    # its healthcheck passed (driftwood migrate's patience). Startup order cannot do that: a
    # server still initialising refuses TCP at once. Seen about once in 20 cold starts in CI
    # on a shared 2-core VM, rarely when run alone; the cause is not found yet.
    "connection timeout expired",
)
# The .env variables that hold secrets, and the stage-state file each one is kept in.
SECRETS = {"POSTGRES_PASSWORD": "db-password", "DRIFTWOOD_SECRET_KEY": "secret-key"}


def fill_secrets(example: str, values: dict[str, str]) -> str:
    """.env.example's text with each `NAME=` line whose NAME is in `values` filled in."""
    lines = []
    for line in example.splitlines():
        name, equals, value = line.partition("=")
        if equals and not value and name in values:
            line = f"{name}={values[name]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def ensure_settings(root: Path) -> Path:
    """The stage's .env: made once from .env.example, secrets generated; kept afterwards
    (the database in the volume was initialised with that password)."""
    settings = root / SETTINGS
    if not settings.exists():
        values = {name: generated_secret(root, kept) for name, kept in SECRETS.items()}
        settings.write_text(fill_secrets((root / EXAMPLE).read_text(), values))
        settings.chmod(0o600)
    return settings


@dataclass(frozen=True)
class ColdStart:
    """One `down --volumes` then `up --wait`: how long the up took, and why it failed."""

    seconds: float
    failure: str | None = None
    # The engine fault that made this cold start run a second time, if one did.
    engine_fault: str | None = None


@dataclass(frozen=True)
class ComposeStage:
    number: int
    port: int

    @property
    def project(self) -> str:
        return f"driftwood-stage-{self.number:02d}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stack(self, root: Path) -> stack.Stack:
        """The stage as `docker compose up` in its folder runs it (with the dev override)."""
        return stack.Stack(root, project=self.project, layers=(stack.DEV_FILE,))

    def trap(self, root: Path) -> stack.Stack:
        """The startup-order trap: compose.trap.yaml over compose.yaml, its own project."""
        return stack.Stack(root, project=f"{self.project}-trap", layers=(TRAP_FILE,))

    def prepare(self, ctx: LessonContext, run: stack.Stack) -> None:
        ensure_settings(ctx.root)
        stack.write_env_file(run.generated_env, stack.stack_variables(ctx.docker, ctx.root))

    def up(self, ctx: LessonContext) -> str:
        run = self.stack(ctx.root)
        self.prepare(ctx, run)
        # `docker compose up --build`: the code is mounted (compose.override.yaml), but the
        # migration job runs the copy installed in the image, so an image built from an older
        # checkout would run old code (plain `up` builds only a missing image). Cached: when
        # nothing changed, the build is a few seconds.
        try:
            stack.up(run, build=True)
        except stack.StackError as exc:  # it names the failed container and its log
            failure = str(exc)
            if not engine_fault(failure):
                raise
            print(f"  {self.project}: up again after an engine fault: {failure}")
            stack.up(run, build=False)
        wait_for("the app answering through nginx", lambda: http_status(self.url + "readyz") == 200)
        return f"the stack {self.project}: {self.url} (`docker compose ps` in {ctx.root})"

    def down(self, ctx: LessonContext) -> str:
        if not (ctx.root / SETTINGS).exists():  # compose cannot even read the files without it
            return f"nothing to remove: {self.project} was never started from {ctx.root}"
        stack.down(self.trap(ctx.root), volumes=True)  # the trap's data is throwaway
        stack.down(self.stack(ctx.root))
        return f"removed {self.project}'s containers and networks (its volume stays)"


def cold_start(run: stack.Stack, services: list[str] | None = None) -> ColdStart:
    """Wipe the stack with its volumes, then time `up --wait` (no build) until it returns;
    a failure says what compose reported and what the failed container logged last. A start
    an engine fault failed (ENGINE_FAULTS) is made once more, and the fault kept: it says
    nothing about the stack's startup order, and counting it would blur what the cold starts
    measure (and could make the trap's claim pass for the wrong reason)."""
    first = _cold_start_once(run, services)
    if first.failure is None or not engine_fault(first.failure):
        return first
    return replace(_cold_start_once(run, services), engine_fault=first.failure)


def _cold_start_once(run: stack.Stack, services: list[str] | None) -> ColdStart:
    # The data goes anyway, so no clean shutdown to wait for: a database stopped while it
    # initialised (the trap) sat out the whole 10 s default here.
    stack.down(run, volumes=True, timeout=1)
    started = time.monotonic()
    try:
        stack.up(run, build=False, services=services)
    except stack.StackError as exc:
        return ColdStart(round(time.monotonic() - started, 1), str(exc))
    return ColdStart(round(time.monotonic() - started, 1))


def engine_fault(failure: str) -> bool:
    return any(fault in failure for fault in ENGINE_FAULTS)
