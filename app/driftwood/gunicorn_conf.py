"""Gunicorn settings for the container (`gunicorn --config python:driftwood.gunicorn_conf`).

Loaded as a module of the installed package, so the image needs no config file on disk.
Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import os
from pathlib import Path

# All interfaces inside the container; only nginx reaches it, over the frontend network.
bind = "0.0.0.0:8000"


def _cpu_limit() -> int:
    """CPUs this container may use: its cgroup's CPU quota when set, else the CPUs it can
    run on. cgroup v2 has one file ("QUOTA PERIOD", or "max"); hosts still on cgroup v1
    (older distributions, some CI machines) have two, with -1 for no quota."""
    cgroup = Path("/sys/fs/cgroup")
    try:
        if (cgroup / "cpu.max").exists():
            quota, period = (cgroup / "cpu.max").read_text(encoding="ascii").split()
        else:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text(encoding="ascii").strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text(encoding="ascii").strip()
        if quota not in {"max", "-1"}:
            return max(1, round(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return len(os.sched_getaffinity(0))


# Processes give CPU parallelism (one GIL each); threads cover the time each request waits on
# PostgreSQL, which is most of it for this app. One process per CPU the container is allowed
# (not per host CPU: os.cpu_count() ignores `cpus:` limits) plus one, each with 4 threads,
# keeps the memory cost of extra processes low while a slow query cannot stall a worker.
# Measured with bench/load.py --tune (bench/results/load.md; 1-CPU limit, 10 clients through
# nginx, on a shared 2-core host, so only large differences count): 4 x 2 and 1 x 8 were the
# slowest for adds (12.7 and 25.1 req/s against 41-62 for 2 or 3 processes), i.e. processes
# past the CPU quota only queue, and a single process leaves the CPU idle while it waits on
# commits. 2 x 4, 3 x 4 and 2 x 8 differed by less than the run-to-run noise (the same 2 x 4
# gave 19.9 and 9.3 list req/s in two runs of one bench), so the cheapest stays: every extra
# process is ~30 MB and one more app import to wait for when the container restarts after a
# crash (15 to 28 s measured here on the loaded host, tests/docker/test_stress_faults.py).
workers = int(os.environ.get("WEB_CONCURRENCY", _cpu_limit() + 1))
# gthread, closing its listening socket as soon as it stops (driftwood/gunicorn_worker.py).
worker_class = "driftwood.gunicorn_worker.DrainingThreadWorker"
threads = int(os.environ.get("GUNICORN_THREADS", 4))

# A request taking longer than this is stuck: the worker is killed and restarted.
timeout = 30
# SIGTERM: stop accepting, finish in-flight requests for up to this long, then exit. It must
# stay below the time the engine waits before SIGKILL (compose `stop_grace_period`, 10 s
# by default for `docker stop`), so a stop never cuts a request half-way. Measured with
# gunicorn 27.0.1: gthread workers keep running until this timeout even when idle, so it is
# also how long every stop takes; 3 s is ten times this app's slowest request.
graceful_timeout = 3
# How long an idle connection stays open for its next request: longer than nginx keeps its
# own pool's idle connections (deploy/nginx/driftwood/http.conf), so nginx always closes
# first and never sends a request on a connection gunicorn is closing.
keepalive = 75

# The heartbeat file goes to /dev/shm (always a tmpfs in a container): the root filesystem
# is read-only in production, and a disk-backed heartbeat can stall workers.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a tmpfs by design, see above)
# The control socket (gunicornc) would need a writable $HOME; nothing here uses it.
control_socket_disable = True

# The app logs one JSON line per request itself (with the request id): no second access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
