"""Deleting images from a registry and collecting their layers, on a throwaway registry
process beside the host's (same binary and config), so the shared one is never paused."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from ops import registry
from tests.conftest import require

ADDRESS = "127.0.0.1:5099"
PLATFORMS = ["linux/amd64", "linux/arm64"]


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[registry.Instance]:
    require(shutil.which("docker-registry"), "docker-registry is not installed (invoke setup)")
    where = registry.Instance(
        address=ADDRESS,
        storage=tmp_path / "storage",
        log=tmp_path / "registry.log",
        pidfile=tmp_path / "registry.pid",
    )
    registry.start(where=where)
    try:
        yield where
    finally:
        registry.stop(where)


def push_index(docker: DockerClient, context: Path, name: str) -> str:
    """A two-platform image of one unique file (no RUN: nothing to emulate), as an OCI index."""
    context.mkdir()
    (context / "payload").write_bytes(os.urandom(1 << 20))  # 1 MiB that does not compress
    (context / "Dockerfile").write_text("FROM scratch\nCOPY payload /payload\n")
    ref = f"{ADDRESS}/{name}:1"
    docker.buildx.build(
        context,
        platforms=PLATFORMS,
        output={"type": "image", "name": ref, "push": "true", "oci-mediatypes": "true"},
        provenance=False,
    )
    return ref


def pullable(name: str) -> bool:
    """Every manifest and blob of name:1 is served (what a pull needs)."""
    _, index = registry.read_manifest(ADDRESS, name, "1")
    for entry in index["manifests"]:
        _, manifest = registry.read_manifest(ADDRESS, name, entry["digest"])
        for blob in [manifest["config"], *manifest["layers"]]:
            registry.call(ADDRESS, f"{name}/blobs/{blob['digest']}", method="HEAD")
    return True


def test_a_deleted_index_goes_with_its_platform_manifests_and_gc_frees_only_its_layers(
    docker: DockerClient, throwaway: registry.Instance, tmp_path: Path
) -> None:
    push_index(docker, tmp_path / "keep", "keep")
    push_index(docker, tmp_path / "drop", "drop")
    deleted = registry.delete_image("drop", "1", address=ADDRESS)
    assert len(deleted) == 1 + len(PLATFORMS)  # the index, then each platform's manifest
    assert registry.delete_image("drop", "1", address=ADDRESS) == []  # gone: nothing to do
    with pytest.raises(registry.RegistryError) as missing:
        registry.read_manifest(ADDRESS, "drop", "1")
    assert missing.value.status == 404

    freed = registry.collect_garbage(show=lambda _: None, where=throwaway)
    # Both platforms share drop's 1 MiB layer; its blob and the configs are swept.
    assert freed >= 1 << 20
    assert registry.answering(ADDRESS)  # started again after collecting
    # The multi-arch image that was kept still has every piece (no --delete-untagged).
    assert pullable("keep")
