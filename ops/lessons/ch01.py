"""Chapter 01, Foundations: the app on the host, PostgreSQL in a first container.

The lesson: a container is a process. The database started by `invoke stage.up 1` is an
ordinary postgres process in the host's /proc, seen through its own PID, mount, network and
UTS namespaces, inside a cgroup that holds the limits `docker run` was given.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from ops.baseimages import load_lock
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.probes import (
    POSTGRES_DB,
    POSTGRES_USER,
    cgroup_limits,
    command_line,
    container,
    generated_secret,
    http_status,
    namespaces,
    postgres_ready,
    remove_container,
    state_dir,
    wait_for,
)

DB = "driftwood-ch01-db"
DB_PORT = 55401  # not 5432: a PostgreSQL already on the laptop keeps its port
APP_PORT = 8001
MEMORY, CPUS, PIDS = 256 * 2**20, 1.0, 200

LESSON = Lesson(chapter=1, title="Foundations")


def _bin(name: str) -> str:
    """A command from the virtualenv running invoke: the app runs on the host, in it."""
    return str(Path(sys.executable).parent / name)


def _app_env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(root / "app"),  # this stage's copy of the app
        "DRIFTWOOD_DATABASE_URL": (
            f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{DB_PORT}/{POSTGRES_DB}"
        ),
        "DRIFTWOOD_DATABASE_PASSWORD": generated_secret(root, "db-password"),
        "DRIFTWOOD_SECRET_KEY": generated_secret(root, "secret-key"),
        "WEB_CONCURRENCY": "2",
    }


def up(ctx: LessonContext) -> str:
    """Start PostgreSQL in a container with limits, migrate, and serve the app on the host."""
    down(ctx)
    ctx.docker.run(
        load_lock()["postgres"].ref,  # by tag here; chapter 02 shows why a digest is better
        detach=True,
        name=DB,
        envs={
            "POSTGRES_USER": POSTGRES_USER,
            "POSTGRES_DB": POSTGRES_DB,
            "POSTGRES_PASSWORD": generated_secret(ctx.root, "db-password"),
        },
        publish=[(f"127.0.0.1:{DB_PORT}", 5432)],
        memory=MEMORY,
        cpus=CPUS,
        pids_limit=PIDS,
    )
    wait_for(f"{DB} accepting connections", lambda: postgres_ready(ctx.docker, DB))
    env = _app_env(ctx.root)
    subprocess.run([_bin("driftwood"), "migrate"], env=env, check=True, cwd=ctx.root)
    state = state_dir(ctx.root)
    with (state / "app.log").open("ab") as log:
        app = subprocess.Popen(
            [_bin("gunicorn"), "--config", "python:driftwood.gunicorn_conf",
             "--bind", f"127.0.0.1:{APP_PORT}", "driftwood.wsgi:app"],
            env=env, cwd=ctx.root, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    (state / "app.pid").write_text(str(app.pid))
    url = f"http://127.0.0.1:{APP_PORT}/"
    wait_for("the app answering /readyz", lambda: http_status(url + "readyz") == 200)
    return f"the app: {url} (log: {state / 'app.log'}); the database: container {DB}"


def down(ctx: LessonContext) -> str:
    pid_file = state_dir(ctx.root) / "app.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)  # gunicorn and its workers
        pid_file.unlink()
    remove_container(ctx.docker, DB)
    return f"stopped the app and removed {DB}"


LESSON.up, LESSON.down = up, down


def _db_pid(ctx: LessonContext) -> int:
    return int(container(ctx.docker, DB).state.pid)


@LESSON.claim(
    f"PostgreSQL runs in a container and accepts connections on 127.0.0.1:{DB_PORT}.",
    hint=f"`docker ps -a --filter name={DB}` and `docker logs {DB}`; start it: invoke stage.up 1",
)
def database_runs(ctx: LessonContext) -> Result:
    found = container(ctx.docker, DB)
    ready = postgres_ready(ctx.docker, DB)
    return Result.expect(
        ready, f"{DB} from {found.config.image}: {found.state.status}, ready={ready}"
    )


@LESSON.claim(
    "The container is a process: the database's main process is visible in the host's /proc.",
    hint="`docker inspect -f '{{.State.Pid}}' driftwood-ch01-db`, then `ps -fp PID` on the host",
)
def container_is_a_process(ctx: LessonContext) -> Result:
    pid = _db_pid(ctx)
    cmdline = command_line(pid)
    return Result.expect("postgres" in cmdline, f"host PID {pid}: {cmdline}", host_pid=pid)


@LESSON.claim(
    "It lives in its own PID, mount, network and UTS namespaces: inside, it is PID 1.",
    hint="`ls -l /proc/PID/ns` against `ls -l /proc/self/ns`; `grep NSpid /proc/PID/status`",
)
def own_namespaces(ctx: LessonContext) -> Result:
    pid = _db_pid(ctx)
    theirs, ours = namespaces(pid), namespaces("self")
    separate = [ns for ns in theirs if theirs[ns] != ours[ns]]
    status = Path(f"/proc/{pid}/status").read_text()
    nspid = next(line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:"))
    return Result.expect(
        len(separate) == len(theirs) and nspid[-1] == "1",
        f"separate: {', '.join(separate) or 'none'}; PID {nspid[0]} on the host is PID "
        f"{nspid[-1]} inside",
        separate_namespaces=len(separate),
        pid_inside=int(nspid[-1]),
    )


@LESSON.claim(
    f"Its cgroup holds the limits it was started with: {MEMORY // 2**20} MiB, {CPUS:g} CPU, "
    f"{PIDS} PIDs.",
    hint="`cat /proc/PID/cgroup`, then memory.max/cpu.max/pids.max (v2) or "
    "memory.limit_in_bytes/cpu.cfs_quota_us/pids.max (v1) under /sys/fs/cgroup",
)
def cgroup_has_limits(ctx: LessonContext) -> Result:
    limits = cgroup_limits(_db_pid(ctx))
    memory, cpus, pids = limits["memory"], limits["cpus"], limits["pids"]
    return Result.expect(
        (memory, cpus, pids) == (MEMORY, CPUS, PIDS),
        f"memory {memory and memory / 2**20:g} MiB, cpus {cpus}, pids {pids and int(pids)}",
        memory_mib=(memory or 0) / 2**20,
        cpus=cpus or 0,
        pids=pids or 0,
    )


@LESSON.claim(
    "The app runs on the host, in the host's namespaces, and reaches the database through "
    "the published port: /readyz answers 200.",
    hint=f"the app's log in .cache/stage-state/app.log; `curl -i 127.0.0.1:{APP_PORT}/readyz`",
)
def app_on_host(ctx: LessonContext) -> Result:
    pid_file = state_dir(ctx.root) / "app.pid"
    if not pid_file.exists():
        return Result(False, "no app.pid: the app is not running (invoke stage.up 1)")
    pid = int(pid_file.read_text())
    on_host = namespaces(pid) == namespaces("self")
    status = http_status(f"http://127.0.0.1:{APP_PORT}/readyz")
    return Result.expect(
        on_host and status == 200,
        f"gunicorn PID {pid} in the host's namespaces: {on_host}; /readyz: {status}",
    )
