"""The early chapters' stage (01, 02): PostgreSQL in a container started by hand, the app
on the host in the virtualenv that runs invoke, talking to it through a published port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ops.lessons import LessonContext
from ops.lessons.probes import (
    POSTGRES_DB,
    POSTGRES_USER,
    generated_secret,
    http_status,
    remove_container,
    state_dir,
    wait_for,
    wait_postgres,
)


def _bin(name: str) -> str:
    """A command from the virtualenv running invoke: the app runs on the host, in it."""
    return str(Path(sys.executable).parent / name)


@dataclass(frozen=True)
class HostStage:
    db: str  # the database container's name
    db_port: int  # published on 127.0.0.1 (not 5432: a PostgreSQL on the laptop keeps it)
    app_port: int
    memory: int = 256 * 2**20
    cpus: float = 1.0
    pids: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}/"

    def app_pid_file(self, root: Path) -> Path:
        return state_dir(root) / "app.pid"

    def _app_env(self, root: Path) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(root / "app"),  # this stage's copy of the app
            "DRIFTWOOD_DATABASE_URL": (
                f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{self.db_port}/{POSTGRES_DB}"
            ),
            "DRIFTWOOD_DATABASE_PASSWORD": generated_secret(root, "db-password"),
            "DRIFTWOOD_SECRET_KEY": generated_secret(root, "secret-key"),
            "WEB_CONCURRENCY": "2",
        }

    def up(self, ctx: LessonContext, image: str) -> str:
        """PostgreSQL from `image` in a container with limits, migrate, serve on the host."""
        self.down(ctx)
        ctx.docker.run(
            image,
            detach=True,
            name=self.db,
            envs={
                "POSTGRES_USER": POSTGRES_USER,
                "POSTGRES_DB": POSTGRES_DB,
                "POSTGRES_PASSWORD": generated_secret(ctx.root, "db-password"),
            },
            publish=[(f"127.0.0.1:{self.db_port}", 5432)],
            memory=self.memory,
            cpus=self.cpus,
            pids_limit=self.pids,
        )
        wait_postgres(ctx.docker, self.db)
        env = self._app_env(ctx.root)
        subprocess.run([_bin("driftwood"), "migrate"], env=env, check=True, cwd=ctx.root)
        log_path = state_dir(ctx.root) / "app.log"
        # --daemon: gunicorn detaches itself (a server outliving this task) and writes its
        # master's PID to the file `stage.down` stops it by.
        subprocess.run(
            [_bin("gunicorn"), "--config", "python:driftwood.gunicorn_conf",
             "--bind", f"127.0.0.1:{self.app_port}", "--daemon",
             "--pid", str(self.app_pid_file(ctx.root)), "--error-logfile", str(log_path),
             "driftwood.wsgi:app"],
            env=env, cwd=ctx.root, check=True,
        )  # fmt: skip
        wait_for("the app answering /readyz", lambda: http_status(self.url + "readyz") == 200)
        return f"the app: {self.url} (log: {log_path}); the database: container {self.db}"

    def down(self, ctx: LessonContext) -> str:
        pid_file = self.app_pid_file(ctx.root)
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):  # already gone
                os.kill(int(pid_file.read_text()), signal.SIGTERM)  # the master stops workers
            pid_file.unlink(missing_ok=True)  # gunicorn removes it itself on a clean exit
        remove_container(ctx.docker, self.db)
        return f"stopped the app and removed {self.db}"
