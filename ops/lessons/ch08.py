"""Chapter 08, Compose: chapter 07's stack in one file, started in order by health.

The claims run against the stage's compose project (driftwood-stage-08): its state, twenty
cold starts in a row (each `down --volumes`, then `up --wait`: an empty database volume
every time, so PostgreSQL initialises from scratch), the same twenty with the trap variant
(project driftwood-stage-08-trap), what `docker compose config` makes of the variables, and
what a profile changes. The stage is left running, as the last cold start brought it up.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from ops import stack
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.composestage import SECRETS, ColdStart, ComposeStage, cold_start
from ops.lessons.probes import http_status, wait_for

STAGE = ComposeStage(number=8, port=8008)
LESSON = Lesson(chapter=8, title="Compose", up=STAGE.up, down=STAGE.down)

COLD_STARTS = 20
# The variable the interpolation claim follows: nginx's published port, default 8008.
PORT_VARIABLE = "DRIFTWOOD_HTTP_PORT"
DEFAULT_PORT, ENV_FILE_PORT, SHELL_PORT = "8008", "18008", "28008"
PROFILE, TOOL = "tools", "psql"


def _cold_starts(
    ctx: LessonContext, run: stack.Stack, services: list[str] | None
) -> list[ColdStart]:
    """`COLD_STARTS` cold starts of `run`, with progress: they take minutes."""
    STAGE.prepare(ctx, run)
    starts: list[ColdStart] = []
    for number in range(1, COLD_STARTS + 1):
        starts.append(cold_start(run, services))
        last = starts[-1]
        again = f" (made again after: {last.engine_fault})" if last.engine_fault else ""
        print(
            f"  {run.project} {number}/{COLD_STARTS}: {last.seconds} s, "
            f"{last.failure or 'healthy'}{again}"
        )
    return starts


def _timing(starts: list[ColdStart]) -> str:
    """Median and maximum time per up, and the starts made again after an engine fault."""
    seconds = [s.seconds for s in starts]
    timing = f"median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s per up"
    faults = [s.engine_fault for s in starts if s.engine_fault]
    if faults:
        timing += f"; {len(faults)} made again after an engine fault: {faults[0]}"
    return timing


@LESSON.claim(
    "`docker compose up --wait` starts the stack in dependency order: PostgreSQL healthy, "
    "the migration job exited 0, the app and nginx healthy; nginx answers on 127.0.0.1:8008.",
    hint="invoke stage.up 8; `docker compose ps --all` in the stage's folder; each service's "
    "`depends_on` condition says what it waits for (`docker compose config`).",
)
def stack_is_healthy(ctx: LessonContext) -> Result:
    containers = STAGE.stack(ctx.root).client().compose.ps(all=True)
    problems = stack.unhealthy(containers)
    status = http_status(STAGE.url + "readyz")
    listed = ", ".join(sorted(
        f"{c.name.removeprefix(STAGE.project + '-')} "
        f"{c.state.health.status if c.state.health else f'{c.state.status} {c.state.exit_code}'}"
        for c in containers
    ))  # fmt: skip
    return Result.expect(
        len(containers) == 4 and not problems and status == 200,
        f"{listed}; {STAGE.url}readyz answers {status}" + (f"; {problems}" if problems else ""),
    )


@LESSON.claim(
    f"`up --wait` reaches healthy every time in {COLD_STARTS} cold starts in a row "
    "(`down --volumes`, then `up --wait`).",
    hint="The health conditions in compose.yaml: migrate waits for `db: service_healthy` "
    "(pg_isready over TCP), the app for `migrate: service_completed_successfully`, nginx for "
    "`app: service_healthy`. `docker compose logs` shows which service failed.",
)
def cold_starts_healthy(ctx: LessonContext) -> Result:
    run = STAGE.stack(ctx.root)
    starts = ctx.once("ch08.cold", lambda: _cold_starts(ctx, run, None))
    failures = [s.failure for s in starts if s.failure]
    healthy = len(starts) - len(failures)
    return Result.expect(
        not failures and http_status(STAGE.url + "readyz") == 200,
        f"{healthy}/{len(starts)} cold starts healthy; {_timing(starts)}"
        + (f"; first failure: {failures[0]}" if failures else ""),
        healthy_starts=healthy,
        cold_start_median_s=round(statistics.median(s.seconds for s in starts), 1),
        cold_start_max_s=max(s.seconds for s in starts),
    )


@LESSON.claim(
    "Without the health condition (compose.trap.yaml: the migration job waits only for the "
    f"database's container to start), the first start fails at least once in {COLD_STARTS} "
    "cold starts: PostgreSQL is still initialising.",
    hint="compose.trap.yaml replaces the job's `db: service_healthy` with `service_started`; "
    "`docker compose -p driftwood-stage-08-trap logs migrate` shows the refused connection.",
)
def trap_fails(ctx: LessonContext) -> Result:
    trap = STAGE.trap(ctx.root)
    try:
        # Only the app and what it depends on: nginx's port is the running stage's.
        starts = ctx.once("ch08.trap", lambda: _cold_starts(ctx, trap, ["app"]))
    finally:
        stack.down(trap, volumes=True)
    failures = [s.failure for s in starts if s.failure]
    return Result.expect(
        len(failures) >= 1,
        f"{len(failures)}/{len(starts)} cold starts failed; {_timing(starts)}"
        + (f"; first failure: {failures[0]}" if failures else ""),
        trap_failures=len(failures),
        trap_start_median_s=round(statistics.median(s.seconds for s in starts), 1),
    )


@contextlib.contextmanager
def shell_variables(**values: str | None) -> Iterator[None]:
    """Set (a string) or unset (None) variables of this process's environment, which the
    compose CLI inherits as its shell; restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def published_port(root: Path, env_file: Path) -> str:
    """nginx's published port as `docker compose config` resolves it with `env_file` in
    place of .env."""
    client = DockerClient(
        compose_files=[root / stack.BASE_FILE],
        compose_project_directory=root,
        compose_env_files=[env_file],
    )
    config = client.compose.config(return_json=True)
    return str(config["services"]["nginx"]["ports"][0]["published"])


@LESSON.claim(
    "Interpolation: a variable set in the shell wins over .env, .env wins over the default in "
    "compose.yaml, and a required variable left unset stops compose with its message.",
    hint="compose.yaml: `${DRIFTWOOD_HTTP_PORT:-8008}` (a default), `${POSTGRES_PASSWORD:?...}` "
    "(required). `docker compose config` prints the file with every variable resolved.",
)
def interpolation_precedence(ctx: LessonContext) -> Result:
    secrets = "".join(f"{name}=example-only\n" for name in SECRETS)
    unset = {PORT_VARIABLE: None, **dict.fromkeys(SECRETS)}
    with tempfile.TemporaryDirectory(prefix="driftwood-stage-08-") as tmp:
        folder = Path(tmp)
        without, with_port, missing = (folder / f"{n}.env" for n in ("without", "port", "partial"))
        without.write_text(secrets)
        with_port.write_text(secrets + f"{PORT_VARIABLE}={ENV_FILE_PORT}\n")
        # One required variable missing (compose names the first it meets, in no set order).
        missing.write_text("DRIFTWOOD_SECRET_KEY=example-only\n")
        with shell_variables(**unset):
            default = published_port(ctx.root, without)
            from_file = published_port(ctx.root, with_port)
            try:
                published_port(ctx.root, missing)
                refused = "nothing: compose accepted the file"
            except DockerException as exc:
                refused = (exc.stderr or "").strip().splitlines()[-1]
        with shell_variables(**{**unset, PORT_VARIABLE: SHELL_PORT}):
            from_shell = published_port(ctx.root, with_port)
    expected = (DEFAULT_PORT, ENV_FILE_PORT, SHELL_PORT)
    return Result.expect(
        (default, from_file, from_shell) == expected and "set POSTGRES_PASSWORD" in refused,
        f"{PORT_VARIABLE} unset: {default}; in the env file: {from_file}; also in the shell: "
        f"{from_shell}; POSTGRES_PASSWORD unset: {refused}",
    )


def _exited(containers: list[Container]) -> Container | None:
    return next((c for c in containers if c.state.status == "exited"), None)


@LESSON.claim(
    "A profile's service starts only when its profile is on: `up` leaves the psql tool out, "
    "`--profile tools up` runs it against the stack's database.",
    hint="compose.yaml: `profiles: [tools]` on the psql service; `docker compose --profile "
    "tools up psql` or `docker compose run --rm psql` (naming a service turns its profile on).",
)
def profile_gates_tool(ctx: LessonContext) -> Result:
    run = STAGE.stack(ctx.root)
    plain = run.client().compose
    services_off = sorted(plain.config(return_json=True)["services"])
    created_off = [c.name for c in plain.ps(all=True) if TOOL in c.name]
    tools = DockerClient(
        compose_files=run.compose_files,
        compose_project_name=run.project,
        compose_project_directory=run.root,
        compose_env_files=run.env_files,
        compose_profiles=[PROFILE],
    ).compose
    tools.up(detach=True, quiet=True)
    try:
        tool = wait_for("the psql tool to finish", lambda: _exited(tools.ps([TOOL], all=True)))
        output = stack.log_tail(ctx.docker, tool.name, 3)
        exit_code = tool.state.exit_code
    finally:
        tools.rm([TOOL], stop=True)
    ran = exit_code == 0 and "(1 row)" in output
    return Result.expect(
        TOOL not in services_off and not created_off and ran,
        f"without the profile: services {', '.join(services_off)}, no {TOOL} container; "
        f"with it: {TOOL} exited {exit_code}, printed {' '.join(output.split())!r}",
    )
