"""ops.volumes against a fake engine: what it refuses, and the tar commands it runs."""

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ops import volumes

IMAGE = "debian:trixie-slim@sha256:" + "0" * 64


@dataclass
class FakeDocker:
    existing: set[str] = field(default_factory=set)
    running_users: list[str] = field(default_factory=list)
    listing: str = ""  # what `find /volume ...` prints
    runs: list[tuple[list[str], list[Any]]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.volume = SimpleNamespace(exists=self.existing.__contains__, create=self.created.append)
        self.container = SimpleNamespace(
            list=lambda filters: [SimpleNamespace(name=n) for n in self.running_users]
        )

    def run(self, image: str, command: list[str], volumes: list[Any], remove: bool) -> str:
        assert image == IMAGE and remove
        self.runs.append((command, volumes))
        return self.listing if command[0] == "find" and "-delete" not in command else ""


def test_backup_archives_with_numeric_owners_from_a_read_only_mount(tmp_path: Path) -> None:
    docker = FakeDocker(existing={"pgdata"})
    written = volumes.backup(docker, "pgdata", tmp_path / "out" / "pg.tar.gz", image=IMAGE)  # type: ignore[arg-type]
    assert written == tmp_path / "out" / "pg.tar.gz"
    [(command, mounts)] = docker.runs
    assert command[:3] == ["tar", "--create", "--gzip"] and "--numeric-owner" in command
    assert ("pgdata", "/volume", "ro") in mounts
    assert (tmp_path / "out", "/backup") in mounts


def test_backup_refuses_a_volume_a_running_container_uses(tmp_path: Path) -> None:
    docker = FakeDocker(existing={"pgdata"}, running_users=["db"])
    with pytest.raises(volumes.VolumeError, match="in use by db"):
        volumes.backup(docker, "pgdata", tmp_path / "pg.tar.gz", image=IMAGE)  # type: ignore[arg-type]
    assert not docker.runs


def test_backup_refuses_a_missing_volume(tmp_path: Path) -> None:
    with pytest.raises(volumes.VolumeError, match="no volume named"):
        volumes.backup(FakeDocker(), "nope", tmp_path / "x.tar.gz", image=IMAGE)  # type: ignore[arg-type]


def test_restore_creates_a_missing_volume_then_unpacks(tmp_path: Path) -> None:
    archive = tmp_path / "pg.tar.gz"
    archive.write_bytes(b"")
    docker = FakeDocker()
    volumes.restore(docker, archive, "pgdata", image=IMAGE)  # type: ignore[arg-type]
    assert docker.created == ["pgdata"]
    [(command, mounts)] = docker.runs
    assert command[:3] == ["tar", "--extract", "--gzip"] and "--numeric-owner" in command
    assert (tmp_path, "/backup", "ro") in mounts


def test_restore_refuses_a_volume_with_files_unless_replacing(tmp_path: Path) -> None:
    archive = tmp_path / "pg.tar.gz"
    archive.write_bytes(b"")
    docker = FakeDocker(existing={"pgdata"}, listing="/volume/PG_VERSION\n")
    with pytest.raises(volumes.VolumeError, match="not empty"):
        volumes.restore(docker, archive, "pgdata", image=IMAGE)  # type: ignore[arg-type]
    volumes.restore(docker, archive, "pgdata", replace=True, image=IMAGE)  # type: ignore[arg-type]
    commands = [command for command, _ in docker.runs]
    assert commands[-2][-1] == "-delete" and commands[-1][0] == "tar"
