"""Named volumes as files: back one up to a tar archive, restore it, move it between hosts.

A throwaway container mounts the volume and the archive's folder, and tar copies between
them. Only the engine touches the volume's files, so this works the same where they live
inside a VM (Docker Desktop) as on Linux. Moving a volume to another host is a backup here,
copying the file (scp, a USB stick), and a restore there.

A file copy of a database's data directory is consistent only while the database is
stopped: both operations refuse a volume that a running container uses.
"""

from __future__ import annotations

from pathlib import Path

from python_on_whales import DockerClient

from ops.baseimages import resolve_refs

SUFFIX = ".tar.gz"


class VolumeError(Exception):
    """The operation would lose or corrupt data; the message says why and what to do."""


def helper_image(docker: DockerClient) -> str:
    """debian:trixie-slim, pinned like every base image (it has tar and find)."""
    return resolve_refs(docker)["DEBIAN_IMAGE"]


def users(docker: DockerClient, volume: str) -> list[str]:
    """Names of the running containers that mount `volume`."""
    return [c.name for c in docker.container.list(filters=[("volume", volume)])]


def _refuse_in_use(docker: DockerClient, volume: str) -> None:
    if running := users(docker, volume):
        raise VolumeError(
            f"volume {volume} is in use by {', '.join(running)}: stop it first "
            "(`docker stop NAME`); a copy of a running database's files is not a backup"
        )


def is_empty(docker: DockerClient, volume: str, image: str) -> bool:
    listing = docker.run(
        image,
        ["find", "/volume", "-mindepth", "1", "-maxdepth", "1"],
        volumes=[(volume, "/volume", "ro")],
        remove=True,
    )
    return not str(listing).strip()


def backup(docker: DockerClient, volume: str, archive: Path, image: str | None = None) -> Path:
    """Write `volume`'s files, owners and modes to the gzipped tar `archive`."""
    if not docker.volume.exists(volume):
        raise VolumeError(f"no volume named {volume} (`docker volume ls`)")
    _refuse_in_use(docker, volume)
    if not archive.name.endswith(SUFFIX):
        raise VolumeError(f"{archive}: name the archive *{SUFFIX}")
    folder = archive.parent.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    docker.run(
        image or helper_image(docker),
        # --numeric-owner: the IDs as they are (postgres is 999 in one image, 100 in
        # another); names would be mapped through the helper's /etc/passwd.
        [
            "tar",
            "--create",
            "--gzip",
            "--numeric-owner",
            "--file",
            f"/backup/{archive.name}",
            "--directory",
            "/volume",
            ".",
        ],
        volumes=[(volume, "/volume", "ro"), (folder, "/backup")],
        remove=True,
    )
    return folder / archive.name


def restore(
    docker: DockerClient,
    archive: Path,
    volume: str,
    *,
    replace: bool = False,
    image: str | None = None,
) -> None:
    """Unpack `archive` into `volume` (created when missing). A volume that already holds
    files is refused unless `replace`, which empties it first."""
    if not archive.is_file():
        raise VolumeError(f"{archive}: no such backup file")
    image = image or helper_image(docker)
    if docker.volume.exists(volume):
        _refuse_in_use(docker, volume)
        if not is_empty(docker, volume, image):
            if not replace:
                raise VolumeError(
                    f"volume {volume} is not empty: restore into a new volume, or pass "
                    "--replace to delete its files first"
                )
            docker.run(
                image,
                ["find", "/volume", "-mindepth", "1", "-delete"],
                volumes=[(volume, "/volume")],
                remove=True,
            )
    else:
        docker.volume.create(volume)
    folder = archive.parent.resolve()
    docker.run(
        image,
        [
            "tar",
            "--extract",
            "--gzip",
            "--numeric-owner",
            "--same-permissions",
            "--file",
            f"/backup/{archive.name}",
            "--directory",
            "/volume",
        ],
        volumes=[(volume, "/volume"), (folder, "/backup", "ro")],
        remove=True,
    )
