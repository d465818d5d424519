"""Chapter 01, Foundations: the app on the host, PostgreSQL in a first container.

The lesson: a container is a process. The database started by `invoke stage.up 1` is an
ordinary postgres process in the host's /proc, seen through its own PID, mount, network and
UTS namespaces, inside a cgroup that holds the limits `docker run` was given.
"""

from __future__ import annotations

from pathlib import Path

from ops.baseimages import load_lock
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.hoststage import HostStage
from ops.lessons.probes import (
    cgroup_limits,
    command_line,
    container,
    http_status,
    namespaces,
    postgres_ready,
)

STAGE = HostStage(db="driftwood-ch01-db", db_port=55401, app_port=8001)
DB, DB_PORT, APP_PORT = STAGE.db, STAGE.db_port, STAGE.app_port
MEMORY, CPUS, PIDS = STAGE.memory, STAGE.cpus, STAGE.pids

LESSON = Lesson(
    chapter=1,
    title="Foundations",
    # By tag here: chapter 02 shows why a digest is the better reference.
    up=lambda ctx: STAGE.up(ctx, load_lock()["postgres"].ref),
    down=STAGE.down,
)


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
    pid_file = STAGE.app_pid_file(ctx.root)
    if not pid_file.exists():
        return Result(False, "no app.pid: the app is not running (invoke stage.up 1)")
    pid = int(pid_file.read_text())
    on_host = namespaces(pid) == namespaces("self")
    status = http_status(f"http://127.0.0.1:{APP_PORT}/readyz")
    return Result.expect(
        on_host and status == 200,
        f"gunicorn PID {pid} in the host's namespaces: {on_host}; /readyz: {status}",
    )
