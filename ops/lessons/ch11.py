"""Chapter 11, Observability and operations: logs that stay bounded, health that means
something, metrics, the engine's own accounting, and a crash loop diagnosed.

The stage is chapter 10's hardened compose stack (compose.yaml + compose.security.yaml) with
compose.operations.yaml on top, project driftwood-stage-11, nginx on 127.0.0.1:8011. Every
claim reads what an operator would read: the json log files under the engine's data root,
`docker inspect`, `docker stats`, `docker events`, `docker system df`, `docker info`, the
app's own /healthz and /readyz through nginx, and /metrics from the app's own port, as a
scraper on the frontend network reads it (nginx does not serve it). The crash loop re-runs
only the stage's one-shot migration job after a new password replaced the secret file; the app and
the database keep running untouched, and the file is put back once the job has given up.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Thread

from prometheus_client.parser import text_string_to_metric_families
from python_on_whales import DockerClient
from python_on_whales.components.system.cli_wrapper import DiskFreeResult
from python_on_whales.exceptions import DockerException

from ops import stack
from ops.diagnose import diagnose_named
from ops.lessons import Lesson, LessonContext, Result, ch10
from ops.lessons.probes import container, http_status, remove_container, scrape_metrics, wait_for
from ops.secrets import GENERATORS, replace_secret

NUMBER = 11
PROJECT = f"driftwood-stage-{NUMBER:02d}"
# Over the stage's compose.yaml: chapter 10's hardening, then this chapter's layer.
LAYERS = (ch10.LAYER, "compose.operations.yaml")
PORT = 8011
URL = f"http://127.0.0.1:{PORT}/"  # nginx, the stack's only published port
APP, DB = f"{PROJECT}-app-1", f"{PROJECT}-db-1"
MIGRATE = f"{PROJECT}-migrate-1"
# Four runs of the job (on-failure:3) and the engine's back-off, on a busy 2-core host.
CRASH_LOOP_TIMEOUT = 120.0
UNBOUNDED = f"{PROJECT}-unbounded"
MIB = 2**20
# The log burst: lines like the app's own JSON lines, written to PID 1's stdout (the stream
# the engine's logging driver reads), the same way in the app and in the unbounded twin.
BURST_LINES = 40_000
BURST = (
    "import sys\n"
    'line = (\'{"level": "info", "logger": "burst", "message": "\' + \'x\' * 140'
    " + '\"}\\n').encode()\n"
    "with open('/proc/1/fd/1', 'wb') as out:\n"
    "    for _ in range(int(sys.argv[1])):\n"
    "        out.write(line)\n"
)
# A page no healthcheck asks for: its counter moves only with the check's own requests.
COUNTED_PATH, COUNTED_ENDPOINT = "login", "auth.login"
REQUESTS = 60
# Units of the json-file driver's max-size (docker's RAMInBytes: binary multiples).
UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?")


def stage_stack(root: Path) -> stack.Stack:
    """The stage's compose stack: chapter 10's, with the operations layer on top."""
    return ch10.compose_stage(root, NUMBER, PORT, LAYERS)


def up(ctx: LessonContext) -> str:
    the_stack = stage_stack(ctx.root)
    # Fresh containers (new logs, restart counts at 0) every time; the database volume stays.
    stack.down(the_stack)
    stack.prepare(the_stack, ctx.docker)
    stack.up(the_stack)
    return f"the stack: {URL} (compose project {PROJECT}: compose.yaml + {' + '.join(LAYERS)})"


def down(ctx: LessonContext) -> str:
    stack.down(stage_stack(ctx.root))
    return f"stopped {PROJECT} (its volume {PROJECT}_db-data stays)"


LESSON = Lesson(chapter=11, title="Observability and operations", up=up, down=down)


# --- the crash loop: a password rotated in the secret file, not in the database ----------

ROTATED = "db_password.txt"  # in secrets/; the containers read /run/secrets/db_password


@contextlib.contextmanager
def rotated_password(root: Path) -> Iterator[Path]:
    """secrets/db_password.txt replaced by a new random password (a "rotation" the database,
    initialised with the old one, never heard of), and put back afterwards. The running app
    and database keep the file they were started with; a container started meanwhile (or
    restarted: the engine mounts the path again on every start) reads the new one."""
    path = root / "secrets" / ROTATED
    if not path.exists():
        raise FileNotFoundError(f"no {path}: invoke stage.up {NUMBER} first")
    kept = path.read_text(encoding="ascii").rstrip("\n")
    replace_secret(path, GENERATORS[ROTATED]())
    try:
        yield path
    finally:
        replace_secret(path, kept)


def start_crash_loop(docker: DockerClient, root: Path) -> str:
    """Re-run the running stage's migration job with a rotated secret file; return the
    job's container once its restart policy has given up and its log is complete (the
    secret file is the old one again by then)."""
    container(docker, DB)  # the stage must be up: a clear error otherwise

    def gave_up() -> bool:
        job = docker.container.inspect(MIGRATE)
        retries = job.host_config.restart_policy.maximum_retry_count or 0
        return job.state.status == "exited" and job.restart_count >= retries

    with rotated_password(root):
        # Only the job: the database keeps running with the password it was created with.
        stage_stack(root).client().compose.up(
            ["migrate"], detach=True, quiet=True, dependencies=False, force_recreate=True
        )
        # Every restart mounts the file again: it stays rotated until the policy gives up.
        wait_for(f"{MIGRATE} to stop restarting", gave_up, CRASH_LOOP_TIMEOUT)
    settled_size(docker, MIGRATE)  # the logging driver may still be writing the last lines
    return MIGRATE


def stop_crash_loop(docker: DockerClient) -> None:
    """Remove the failed job's container; the next `stage.up` runs the job again."""
    remove_container(docker, MIGRATE)


# --- logs ----------------------------------------------------------------------------------


def size_bytes(text: str) -> int:
    """A json-file `max-size` value ("1m", "512k", "10MB") in bytes."""
    match = SIZE.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"not a log size: {text!r} (write e.g. 1m, 512k, 10m)")
    return int(float(match[1]) * UNITS[match[2]])


def log_cap(options: dict[str, str]) -> int | None:
    """The most a json-file log can keep on disk, from its options; None when unbounded."""
    if "max-size" not in options:
        return None
    return size_bytes(options["max-size"]) * int(options.get("max-file", "1"))


def log_files(docker: DockerClient, name: str) -> list[Path]:
    """The container's json log and its rotated files, under the engine's data root."""
    current = Path(docker.container.inspect(name).log_path)
    return sorted(current.parent.glob(current.name + "*"))


def settled_size(docker: DockerClient, name: str) -> int:
    """The log files' total size once the logging driver has written everything out."""
    sizes = [-1]

    def stable() -> int | None:
        total = sum(p.stat().st_size for p in log_files(docker, name))
        settled = total == sizes[-1]
        sizes.append(total)
        time.sleep(0.5)
        return total if settled else None

    return wait_for(f"{name}'s log to stop growing", stable, 60.0)


@LESSON.claim(
    "Without limits the json-file log keeps every line; with max-size and max-file it stays "
    "under its cap while the app logs heavily.",
    hint="compose.operations.yaml `logging:` (json-file, max-size, max-file) on every service; "
    "`docker inspect -f '{{.HostConfig.LogConfig}}' NAME`, and the files next to "
    "`docker inspect -f '{{.LogPath}}' NAME`",
)
def logs_stay_bounded(ctx: LessonContext) -> Result:
    docker = ctx.docker
    app = container(docker, APP)
    image = app.config.image  # the stage's app image, as compose tagged it
    options = dict(app.host_config.log_config.config or {})
    cap = log_cap(options)
    if cap is None:
        return Result(False, f"{APP} logs without a size limit: {options or 'no options'}")
    remove_container(docker, UNBOUNDED)
    try:
        # The engine's default: json-file, no options. It writes the same burst and exits
        # (detached: the burst goes to its log, not through this client).
        docker.run(
            image,
            ["-c", BURST, str(BURST_LINES)],
            entrypoint="python",
            name=UNBOUNDED,
            log_driver="json-file",
            detach=True,
        )
        docker.container.wait(UNBOUNDED)
        unbounded = settled_size(docker, UNBOUNDED)
    finally:
        remove_container(docker, UNBOUNDED)
    started = time.monotonic()
    # The same burst in the app, while it answers requests (one JSON line each).
    with ThreadPoolExecutor(8) as pool:
        answered = pool.map(http_status, [URL + "healthz"] * 200)
        docker.execute(app, ["python", "-c", BURST, str(BURST_LINES)])
        ok = sum(status == 200 for status in answered)
    bounded = settled_size(docker, APP)
    files = log_files(docker, APP)
    seconds = time.monotonic() - started
    root_dir = docker.system.info().docker_root_dir
    return Result.expect(
        # Rotated (more than one file), and never more than the cap plus one last line.
        len(files) > 1 and bounded <= cap + 64 * 1024 and unbounded > cap,
        f"{BURST_LINES} lines ({unbounded / MIB:.1f} MiB as json) kept whole without limits; "
        f"with max-size {options['max-size']} x max-file {options.get('max-file', '1')} the "
        f"app's log is {bounded / MIB:.2f} MiB in {len(files)} files under {root_dir} after "
        f"the same burst and {ok} requests ({seconds:.1f} s)",
        unbounded_mib=round(unbounded / MIB, 2),
        bounded_mib=round(bounded / MIB, 2),
        cap_mib=round(cap / MIB, 2),
        files=len(files),
    )


# --- health --------------------------------------------------------------------------------


def _health_after(docker: DockerClient, name: str, since: datetime) -> str | None:
    """The container's health status once the engine has probed it after `since`."""
    state = docker.container.inspect(name).state
    if state.health and any(entry.start and entry.start > since for entry in state.health.log):
        return state.health.status
    return None


@LESSON.claim(
    "During a database outage /healthz stays 200 and the container healthy (not restarted), "
    "while /readyz answers 503 until the database is back.",
    hint="The image's HEALTHCHECK asks /healthz (the process), never the database; /readyz "
    "(app/driftwood/ops.py) runs SELECT 1. A healthcheck on the database would mark every "
    "app container unhealthy in one outage.",
)
def health_means_something(ctx: LessonContext) -> Result:
    docker = ctx.docker
    restarts = container(docker, APP).restart_count
    docker.container.stop(DB)
    stopped = datetime.now(UTC)
    try:
        wait_for("/readyz to answer 503", lambda: http_status(URL + "readyz") == 503)
        alive = http_status(URL + "healthz")
        health = wait_for(
            f"a healthcheck of {APP} during the outage",
            lambda: _health_after(docker, APP, stopped),
            40.0,
        )
    finally:
        docker.container.start(DB)
        started = time.monotonic()
    wait_for("/readyz to answer 200 again", lambda: http_status(URL + "readyz") == 200, 60.0)
    back_s = time.monotonic() - started
    after = docker.container.inspect(APP).restart_count
    return Result.expect(
        alive == 200 and health == "healthy" and after == restarts,
        f"database stopped: /readyz 503, /healthz {alive}, engine health {health}, "
        f"restarts {restarts} -> {after}; /readyz 200 again {back_s:.1f} s after the "
        "database started",
        ready_back_s=round(back_s, 1),
    )


# --- metrics and stats ---------------------------------------------------------------------


def request_count(text: str, endpoint: str) -> float:
    """driftwood_http_requests_total for `endpoint`, summed over methods and statuses."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "driftwood_http_requests_total"
        and sample.labels.get("endpoint") == endpoint
    )


@LESSON.claim(
    "/metrics counts every request once, whichever gunicorn worker answered it: N requests "
    "raise the counter by N.",
    hint="PROMETHEUS_MULTIPROC_DIR (a tmpfs, both in compose.yaml) lets the workers share "
    "counters; without it each scrape shows one worker's share.",
)
def metrics_count_requests(ctx: LessonContext) -> Result:
    before = request_count(scrape_metrics(ctx.docker, APP), COUNTED_ENDPOINT)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(http_status, [URL + COUNTED_PATH] * REQUESTS))
    after = request_count(scrape_metrics(ctx.docker, APP), COUNTED_ENDPOINT)
    return Result.expect(
        after - before == REQUESTS and statuses.count(200) == REQUESTS,
        f"{REQUESTS} GET /{COUNTED_PATH} ({statuses.count(200)} answered 200): "
        f'driftwood_http_requests_total{{endpoint="{COUNTED_ENDPOINT}"}} {before:g} -> {after:g}',
        counted=after - before,
    )


@LESSON.claim(
    "`docker stats` shows each service's memory use against the limit compose set.",
    hint="deploy.resources.limits in compose.operations.yaml; `docker stats --no-stream`",
)
def stats_show_limits(ctx: LessonContext) -> Result:
    docker = ctx.docker
    limits = {name: docker.container.inspect(name).host_config.memory for name in (APP, DB)}
    stats = {s.container_name: s for s in docker.container.stats([APP, DB])}
    shown = {
        name: f"{stats[name].memory_used / MIB:.0f} MiB of {stats[name].memory_limit / MIB:.0f}"
        f" MiB, CPU {stats[name].cpu_percentage:.1f}%"
        for name in (APP, DB)
    }
    matches = all(
        limits[name] and abs(stats[name].memory_limit - limits[name]) < MIB for name in (APP, DB)
    )
    return Result.expect(
        matches,
        "; ".join(f"{name}: {text}" for name, text in shown.items()),
        app_mib=round(stats[APP].memory_used / MIB),
        db_mib=round(stats[DB].memory_used / MIB),
    )


# --- the engine's disk ---------------------------------------------------------------------


def _size(size: float | None) -> str:
    size = size or 0
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _disk_free(docker: DockerClient) -> DiskFreeResult | None:
    try:
        return docker.system.disk_free()
    except DockerException:  # another user removed an image while the engine sized it
        return None


@LESSON.claim(
    "`docker system df` accounts for images, containers, volumes and build cache, and "
    "`docker info` names the storage driver that holds them.",
    hint="`docker system df -v`; prune only what you own (`docker image prune --filter "
    "label=...`), never the shared engine by reflex. `docker info`: Storage Driver.",
)
def disk_accounted(ctx: LessonContext) -> Result:
    docker = ctx.docker
    info = docker.system.info()
    driver_type = dict(info.driver_status or []).get("driver-type", "graphdriver")
    df = wait_for("docker system df", lambda: _disk_free(docker), 30.0)
    parts = {
        "images": df.images,
        "containers": df.containers,
        "volumes": df.volumes,
        "build cache": df.build_cache,
    }
    shown = "; ".join(
        f"{name} {part.total_count} ({_size(part.size)}, {_size(part.reclaimable)} reclaimable)"
        for name, part in parts.items()
    )
    return Result.expect(
        bool(info.driver) and all(part.size is not None for part in parts.values()),
        f"storage driver {info.driver} ({driver_type}) under {info.docker_root_dir}; {shown}",
        images_gb=round(df.images.size / 1e9, 2),
        reclaimable_gb=round(sum(part.reclaimable or 0 for part in parts.values()) / 1e9, 2),
    )


# --- the crash loop ------------------------------------------------------------------------


def follow_events(docker: DockerClient, name: str, seconds: float) -> list[str]:
    """Follow `docker events` for container `name` for `seconds`, live, in the background:
    the returned list fills with each event's action as it happens. The engine keeps only
    its last 256 events in memory: on a busy engine, asking afterwards misses some."""
    seen: list[str] = []
    now = datetime.now(UTC)
    stream = docker.system.events(
        since=now, until=now + timedelta(seconds=seconds), filters={"container": name}
    )
    Thread(target=lambda: seen.extend(event.action or "?" for event in stream), daemon=True).start()
    return seen


@LESSON.claim(
    "A job started after a new password replaced the secret file crash-loops, and `invoke "
    "diagnose` names the cause (password authentication failed) with the exit code and "
    "restart count.",
    hint="ops/diagnose.py reads `docker inspect` (State.ExitCode, RestartCount, OOMKilled) and "
    "the last log lines; POSTGRES_PASSWORD_FILE is read only when the volume is empty: "
    "change the password in the database (ALTER ROLE) first, then secrets/db_password.txt.",
)
def crash_loop_diagnosed(ctx: LessonContext) -> Result:
    docker = ctx.docker
    # Bounded: the follower exits by itself once the loop is long over.
    events = follow_events(docker, MIGRATE, CRASH_LOOP_TIMEOUT + 30)
    try:
        name = start_crash_loop(docker, ctx.root)
        found = diagnose_named(docker, name)
    finally:
        stop_crash_loop(docker)
    dies = events.count("die")
    named = "password authentication failed" in found.cause
    return Result.expect(
        named and found.exit_code != 0 and found.restarts >= 1 and not found.oom_killed,
        f"{name}: exit {found.exit_code}, {found.restarts} restarts ({dies} die events followed "
        f"live), OOM killed {found.oom_killed}; cause: {found.cause}",
        exit_code=found.exit_code,
        restarts=found.restarts,
        die_events=dies,
    )
