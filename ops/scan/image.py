"""Everything a scan needs from the engine, taken once and then read as plain files.

- `docker image inspect`: user, env, labels, healthcheck, size;
- `docker save`: the config's build history and every layer on its own (a secret deleted by
  a later layer still ships in the earlier one);
- `docker export` of a created (never started) container: the flattened filesystem, whose
  tar headers give every path's mode, and from which the SBOM's few files are extracted.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.components.image.models import ImageInspectResult

from ops.scan.policy import FileEntry
from ops.scan.sbom import wanted


@dataclass
class ImageMaterial:
    inspect: ImageInspectResult
    history: list[str]
    archive: Path  # the `docker save` tarball, for dive and vulnerability scanners
    layers: list[Layer]
    files: list[FileEntry]  # the flattened filesystem
    root: Path  # the SBOM's files, extracted under their image paths


def _regular_files_only(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """Safe extraction (no absolute or escaping paths) of readable regular files only."""
    if not member.isfile():  # devices, links and directories carry no secrets of their own
        return None
    return tarfile.data_filter(member, dest).replace(mode=0o644, deep=False)


@dataclass(frozen=True)
class Layer:
    label: str  # "2/7": its place in the image
    digest: str  # the blob's digest: the same layer in another image has the same one
    member: str  # its path inside the saved archive


def _read_saved(archive: Path) -> tuple[list[str], list[Layer]]:
    with tarfile.open(archive) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(saved.extractfile(manifest["Config"]))  # type: ignore[arg-type]
    history = [h.get("created_by", "") for h in config.get("history", [])]
    count = len(manifest["Layers"])
    layers = [
        Layer(
            f"{number}/{count}", "sha256:" + member.rsplit("/", 1)[-1].removesuffix(".tar"), member
        )
        for number, member in enumerate(manifest["Layers"], start=1)
    ]
    return history, layers


def extract_layer(archive: Path, layer: Layer, directory: Path) -> Path:
    """The layer's regular files, unpacked on their own under `directory`."""
    directory.mkdir(parents=True)
    with tarfile.open(archive) as saved:
        blob = saved.extractfile(layer.member)
        with tarfile.open(fileobj=blob, mode="r:*") as unpacked:
            unpacked.extractall(directory, filter=_regular_files_only)  # noqa: S202 (filtered)
    return directory


def _read_exported(export: Path, root: Path) -> list[FileEntry]:
    files = []
    with tarfile.open(export) as flat:
        for member in flat:
            entry = FileEntry.from_tarinfo(member)
            files.append(entry)
            if member.isfile() and wanted(entry.path):
                flat.extract(member, root, filter=_regular_files_only)
    return files


def gather(docker: DockerClient, image: str, workdir: Path) -> ImageMaterial:
    inspect = docker.image.inspect(image)
    archive = workdir / "image.tar"
    docker.image.save(image, output=archive)
    history, layers = _read_saved(archive)
    export = workdir / "rootfs.tar"
    # Created, never started: a command is only needed for images that declare none.
    container = docker.container.create(image, command=["/nonexistent"])
    try:
        docker.container.export(container, export)
    finally:
        container.remove()
    root = workdir / "rootfs"
    root.mkdir()
    files = _read_exported(export, root)
    export.unlink()  # as big as the image; everything needed is read
    return ImageMaterial(inspect, history, archive, layers, files, root)
