"""Chapter 06, Storage: where a container's data lives, and what survives what.

Every claim runs PostgreSQL (or a small Debian container) under its own `driftwood-ch06-`
names, measures, and removes what it started; the learner's stage is not touched.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from python_on_whales import Container, DockerClient

from ops import volumes
from ops.baseimages import resolve_refs
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.ch04 import PGDATA, ImageStage
from ops.lessons.probes import container, postgres_ready, wait_for

# The stage: chapter 05's image, its database in a named volume that outlives it.
STAGE = ImageStage(number=6, port=8006, target="runtime", volume="driftwood-ch06-data")
LESSON = Lesson(chapter=6, title="Storage", up=STAGE.up, down=STAGE.down)

PREFIX = "driftwood-ch06"
# The claims' own volume: the stage's data is never touched.
VOLUME = f"{PREFIX}-pgdata"
INSERT = "INSERT INTO notes (body) VALUES ('a bookmark'), ('another one'), ('the third')"
# The rows' fingerprint: equal fingerprints mean the same rows, in the same order.
FINGERPRINT = (
    "SELECT count(*) || ' rows, md5 ' || md5(string_agg(id || ':' || body, ',' ORDER BY id))"
    " FROM notes"
)


def _refs(ctx: LessonContext) -> dict[str, str]:
    return ctx.once("refs", lambda: resolve_refs(ctx.docker))


def psql(docker: DockerClient, container: Container, sql: str) -> str:
    """Run `sql` in the container's database over its Unix socket; the output, unaligned."""
    output = docker.execute(
        container, ["psql", "-U", "driftwood", "-d", "driftwood", "-tAX", "-c", sql]
    )
    return str(output).strip()


@contextlib.contextmanager
def database(ctx: LessonContext, name: str, volume: str | None) -> Iterator[Container]:
    """A PostgreSQL container, ready; removed afterwards with its anonymous volumes."""
    container = ctx.docker.run(
        _refs(ctx)["POSTGRES_IMAGE"],
        detach=True,
        name=f"{PREFIX}-{name}",
        envs={
            "POSTGRES_USER": "driftwood",
            "POSTGRES_DB": "driftwood",
            "POSTGRES_PASSWORD": secrets.token_hex(16),
        },
        volumes=[(volume, PGDATA)] if volume else [],
    )
    try:
        wait_for(f"{container.name} ready", lambda: postgres_ready(ctx.docker, container.name))
        yield container  # type: ignore[misc]
    finally:
        ctx.docker.container.remove(container, force=True, volumes=True)  # type: ignore[arg-type]


def write_rows(docker: DockerClient, container: Container) -> str:
    psql(docker, container, "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
    psql(docker, container, INSERT)
    return psql(docker, container, FINGERPRINT)


def read_rows(docker: DockerClient, container: Container) -> str | None:
    """The fingerprint, or None when the table does not exist (the data is gone)."""
    if psql(docker, container, "SELECT to_regclass('notes') IS NOT NULL") != "t":
        return None
    return psql(docker, container, FINGERPRINT)


def where_data_lives(container: Container) -> str:
    container.reload()
    for mount in container.mounts:
        if mount.destination == PGDATA:
            # No -v: the only volume here is the one the image's VOLUME made, unnamed.
            return f"an anonymous volume ({mount.name[:12]})" if mount.name else str(mount.type)
    return "the container's writable layer"


def remove_volume(docker: DockerClient, volume: str) -> None:
    if docker.volume.exists(volume):
        docker.volume.remove(volume)


@LESSON.claim(
    "The stage's database keeps its files in a named volume, not in the container.",
    hint=f"invoke stage.up 6; `docker inspect {STAGE.db}` .Mounts: a volume named "
    f"{STAGE.volume} on {PGDATA}",
)
def stage_uses_volume(ctx: LessonContext) -> Result:
    db = container(ctx.docker, STAGE.db)
    mounts = {m.destination: m for m in db.mounts}
    mount = mounts.get(PGDATA)
    name = mount.name if mount else None
    return Result.expect(
        name == STAGE.volume,
        f"{PGDATA} in {STAGE.db}: {mount.type if mount else 'no mount'} {name or ''}".strip(),
    )


@LESSON.claim(
    "Data written in a container without a named volume is gone once the container is removed.",
    hint="Without -v the data lives in the container's writable layer, or in an anonymous "
    "volume when the image declares VOLUME (the official postgres image does); "
    "`docker rm -v` and `docker run --rm` delete both with the container.",
)
def no_volume_loses_data(ctx: LessonContext) -> Result:
    with database(ctx, "scratch-1", None) as first:
        written = write_rows(ctx.docker, first)
        lived_in = where_data_lives(first)
    with database(ctx, "scratch-2", None) as second:
        found = read_rows(ctx.docker, second)
    return Result.expect(
        found is None,
        f"wrote {written} into {lived_in}; after removal a new container finds "
        f"{found or 'no table'}",
    )


@LESSON.claim(
    "Data written to a named volume is still there after the container is removed.",
    hint=f"`docker run -v {VOLUME}:{PGDATA} ...`: the volume outlives every container that "
    "mounts it; `docker volume inspect` shows where the engine keeps it.",
)
def named_volume_keeps_data(ctx: LessonContext) -> Result:
    remove_volume(ctx.docker, VOLUME)
    with database(ctx, "db-1", VOLUME) as first:
        written = write_rows(ctx.docker, first)
    with database(ctx, "db-2", VOLUME) as second:
        found = read_rows(ctx.docker, second)
    ctx.memo["ch06.rows"] = written
    return Result.expect(
        found == written,
        f"wrote {written}; container removed; a new container on {VOLUME} finds {found}",
    )


@LESSON.claim(
    "A volume that a running database uses cannot be backed up as files.",
    hint="ops/volumes.py refuses: stop the database first (or use pg_dump, chapter 08); "
    "files copied while PostgreSQL writes them are not a consistent backup.",
)
def live_backup_refused(ctx: LessonContext) -> Result:
    with database(ctx, "db-live", VOLUME), tempfile.TemporaryDirectory() as tmp:
        try:
            volumes.backup(ctx.docker, VOLUME, Path(tmp) / "live.tar.gz")
        except volumes.VolumeError as exc:
            return Result(True, f"refused: {exc}")
    return Result(False, "the backup of a volume in use went ahead")


@LESSON.claim(
    "Backup, wipe, restore: the volume comes back with the same rows.",
    hint="invoke volume.backup / volume.restore (ops/volumes.py): tar through a throwaway "
    "container, --numeric-owner so the files keep the postgres user's IDs.",
)
def backup_wipe_restore(ctx: LessonContext) -> Result:
    written = ctx.memo.get("ch06.rows")
    if written is None:
        return Result(False, "no rows to back up: the named-volume claim did not run")
    with tempfile.TemporaryDirectory(prefix="driftwood-ch06-") as tmp:
        started = time.monotonic()
        archive = volumes.backup(ctx.docker, VOLUME, Path(tmp) / "pgdata.tar.gz")
        backup_s = time.monotonic() - started
        size_kb = archive.stat().st_size / 1024
        ctx.docker.volume.remove(VOLUME)
        wiped = not ctx.docker.volume.exists(VOLUME)
        started = time.monotonic()
        volumes.restore(ctx.docker, archive, VOLUME)
        restore_s = time.monotonic() - started
    try:
        with database(ctx, "db-restored", VOLUME) as restored:
            found = read_rows(ctx.docker, restored)
    finally:
        remove_volume(ctx.docker, VOLUME)
    return Result.expect(
        wiped and found == written,
        f"backup {size_kb:.0f} KiB in {backup_s:.1f} s; volume removed: {wiped}; restored in "
        f"{restore_s:.1f} s; rows before {written}, after {found}",
        backup_kib=round(size_kb),
        backup_s=round(backup_s, 2),
        restore_s=round(restore_s, 2),
    )


@LESSON.claim(
    "A restart keeps the writable layer but empties a tmpfs mount; a bind mount shows the "
    "host's files, live.",
    hint="tmpfs lives in memory for one run of the container (scratch files, secrets in "
    "use); a bind mount is a host folder (development: edit, reload, no rebuild).",
)
def tmpfs_and_bind(ctx: LessonContext) -> Result:
    with tempfile.TemporaryDirectory(prefix="driftwood-ch06-") as tmp:
        host = Path(tmp)
        container = ctx.docker.run(
            _refs(ctx)["DEBIAN_IMAGE"],
            ["sleep", "infinity"],
            detach=True,
            name=f"{PREFIX}-mounts",
            tmpfs=["/scratch"],
            volumes=[(host, "/src", "ro")],
            init=True,  # sleep as PID 1 would ignore SIGTERM: the stop would take 10 s
        )
        try:
            write = "echo kept >/layer.txt && echo gone >/scratch/tmp.txt"
            ctx.docker.execute(container, ["sh", "-c", write])  # type: ignore[arg-type]
            ctx.docker.container.restart(container)  # type: ignore[arg-type]
            after = ctx.docker.execute(
                container,  # type: ignore[arg-type]
                ["sh", "-c", "cat /layer.txt; ls /scratch | wc -l"],
            ).split()
            (host / "edited-on-host.txt").write_text("live\n")
            seen = ctx.docker.execute(container, ["cat", "/src/edited-on-host.txt"])  # type: ignore[arg-type]
        finally:
            ctx.docker.container.remove(container, force=True)  # type: ignore[arg-type]
    return Result.expect(
        after == ["kept", "0"] and str(seen).strip() == "live",
        f"after a restart: writable-layer file {after[0]!r}, tmpfs files {after[1]}; "
        f"a file written on the host after start reads {str(seen).strip()!r} inside",
    )
