"""Back up and restore the stack's database with pg_dump and pg_restore.

Both run in a throwaway container of compose.yaml's `backup` service: it joins the backend
network (the only way to reach the database, which publishes no port), reads the password
from the compose secret, writes to ./backups, and is removed when it exits. It runs as the
invoking user so the dump file on the host belongs to them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from ops.stack import Stack, up

SERVICE = "backup"
BACKUP_DIR = "backups"
CONTAINER_DIR = "/backups"
RESTORE_PATH = "/restore/driftwood.dump"
DATABASE = "driftwood"  # POSTGRES_DB in compose.yaml
# The services that hold connections to the database, stopped during a restore.
CLIENTS = ["nginx", "app"]


def backup_name(now: datetime) -> str:
    return f"driftwood-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.dump"


def dump_command(name: str) -> list[str]:
    # The custom format is compressed and lets pg_restore pick, reorder and clean objects.
    return ["pg_dump", "--format=custom", f"--file={CONTAINER_DIR}/{name}"]


def restore_command() -> list[str]:
    # --clean --if-exists: replace what `migrate` created in a new stack, or the current data.
    # One transaction: a failed restore leaves the database as it was.
    return [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        # Without --dbname, pg_restore would print SQL instead of restoring.
        f"--dbname={DATABASE}",
        RESTORE_PATH,
    ]


def _host_user() -> str:
    return f"{os.getuid()}:{os.getgid()}"


def backup(stack: Stack, now: datetime | None = None) -> Path:
    """Dump the running stack's database to backups/driftwood-<time>.dump; return its path."""
    directory = stack.root / BACKUP_DIR
    directory.mkdir(exist_ok=True)
    name = backup_name(now or datetime.now(UTC))
    stack.client().compose.run(
        SERVICE, dump_command(name), remove=True, tty=False, user=_host_user()
    )
    return directory / name


def restore(stack: Stack, dump: Path) -> None:
    """Replace the database's contents with `dump`, with the app stopped meanwhile."""
    if not dump.is_file():
        raise FileNotFoundError(f"{dump}: no such backup file")
    compose = stack.client().compose
    compose.stop(CLIENTS)
    compose.run(
        SERVICE,
        restore_command(),
        remove=True,
        tty=False,
        user=_host_user(),
        volumes=[(dump.resolve(), RESTORE_PATH, "ro")],
    )
    up(stack, build=False)
