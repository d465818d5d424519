"""The base image lock and resolve_refs' choice between official images and stand-ins."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from ops import baseimages
from ops.baseimages import LockError, load_lock, resolve_refs

DIGEST = "sha256:" + "a" * 64
STANDIN_DIGEST = "sha256:" + "b" * 64


def write_lock(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "base-images.yaml"
    path.write_text("suite: trixie\nimages:\n" + body)
    return path


ENTRY = """\
  python:
    ref: python:3.13-slim-trixie
    variable: PYTHON_IMAGE
    platforms: [linux/amd64, linux/arm64]
    digest: {digest}
    standin:
      packages: [python3]
      version_package: python3
"""


def test_the_committed_lock_names_every_base_driftwood_uses() -> None:
    lock = load_lock()
    assert {image.variable for image in lock.values()} == {
        "DEBIAN_IMAGE",
        "PYTHON_IMAGE",
        "POSTGRES_IMAGE",
        "NGINX_IMAGE",
    }
    assert lock["debian"].ref == "debian:trixie-slim"
    # Every base of the multi-arch image has both platforms.
    for name in ("debian", "python", "nginx"):
        assert lock[name].platforms == ("linux/amd64", "linux/arm64")


def test_image_names_and_versions(tmp_path: Path) -> None:
    image = load_lock(write_lock(tmp_path, ENTRY.format(digest="null")))["python"]
    assert (image.repository, image.tag, image.tag_version) == (
        "python",
        "3.13-slim-trixie",
        "3.13",
    )
    assert image.standin_ref == "127.0.0.1:5000/library/python:3.13-slim-trixie"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("ref: python:3.13@sha256:x", "images.python.ref"),
        ("ref: python", "images.python.ref"),
        ("digest: sha256:short", "images.python.digest"),
        ("platforms: linux/amd64", "images.python.platforms"),
    ],
)
def test_malformed_entries_name_the_field(tmp_path: Path, bad: str, message: str) -> None:
    key = bad.split(":", 1)[0]
    lines = [
        f"    {bad}" if line.strip().startswith(f"{key}:") else line
        for line in ENTRY.format(digest="null").splitlines()
    ]
    with pytest.raises(LockError, match=message):
        load_lock(write_lock(tmp_path, "\n".join(lines) + "\n"))


def test_packages_from_a_newer_suite_must_be_among_the_stand_ins(tmp_path: Path) -> None:
    newer = ENTRY.format(digest="null") + "      newer: {suite: sid, packages: [python3]}\n"
    image = load_lock(write_lock(tmp_path, newer))["python"]
    assert (image.newer_suite, image.newer_packages) == ("sid", ("python3",))
    stray = newer.replace("packages: [python3]}", "packages: [nginx]}")
    with pytest.raises(LockError, match=r"images.python.standin.newer.packages: .*nginx"):
        load_lock(write_lock(tmp_path, stray))
    with pytest.raises(LockError, match=r"images\.python\.standin\.newer: expected a mapping"):
        load_lock(write_lock(tmp_path, ENTRY.format(digest="null") + "      newer: sid\n"))


class FakeImages:
    def __init__(self, present: set[str], pullable: set[str]) -> None:
        self.present, self.pullable, self.pulled = present, pullable, []
        self.details: dict[str, SimpleNamespace] = {}

    def exists(self, ref: str) -> bool:
        return ref in self.present or ref in self.details

    def inspect(self, ref: str) -> SimpleNamespace:
        return self.details[ref]

    def pull(self, ref: str, quiet: bool = False) -> None:
        self.pulled.append(ref)
        if ref not in self.pullable:
            from python_on_whales.exceptions import DockerException

            raise DockerException(["docker", "image", "pull", ref], 1)


def fake_docker(present: set[str] = frozenset(), pullable: set[str] = frozenset()):
    return SimpleNamespace(image=FakeImages(set(present), set(pullable)))


@pytest.fixture
def registry_digest(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    served: dict[str, str] = {}
    monkeypatch.setattr(
        baseimages.registry, "manifest_digest", lambda repo, tag: served.get(f"{repo}:{tag}")
    )
    return served


def test_official_image_wins_when_present(tmp_path, registry_digest) -> None:
    lock = load_lock(write_lock(tmp_path, ENTRY.format(digest=DIGEST)))
    docker = fake_docker(present={f"python:3.13-slim-trixie@{DIGEST}"})
    assert resolve_refs(docker, lock) == {"PYTHON_IMAGE": f"python:3.13-slim-trixie@{DIGEST}"}


def test_official_image_wins_when_pullable(tmp_path, registry_digest) -> None:
    lock = load_lock(write_lock(tmp_path, ENTRY.format(digest=DIGEST)))
    pinned = f"python:3.13-slim-trixie@{DIGEST}"
    docker = fake_docker(pullable={pinned})
    assert resolve_refs(docker, lock) == {"PYTHON_IMAGE": pinned}
    assert docker.image.pulled == [pinned]


def test_stand_in_by_digest_from_the_local_registry_otherwise(tmp_path, registry_digest) -> None:
    lock = load_lock(write_lock(tmp_path, ENTRY.format(digest=DIGEST)))
    registry_digest["library/python:3.13-slim-trixie"] = STANDIN_DIGEST
    assert resolve_refs(fake_docker(), lock) == {
        "PYTHON_IMAGE": f"127.0.0.1:5000/library/python:3.13-slim-trixie@{STANDIN_DIGEST}"
    }


def test_no_official_digest_means_stand_in_without_trying_to_pull(
    tmp_path, registry_digest
) -> None:
    lock = load_lock(write_lock(tmp_path, ENTRY.format(digest="null")))
    registry_digest["library/python:3.13-slim-trixie"] = STANDIN_DIGEST
    docker = fake_docker()
    assert resolve_refs(docker, lock)["PYTHON_IMAGE"].endswith(STANDIN_DIGEST)
    assert docker.image.pulled == []


def test_no_official_digest_pins_the_one_setup_pulled_by_tag(tmp_path, registry_digest) -> None:
    lock = load_lock(write_lock(tmp_path, ENTRY.format(digest="null")))
    docker = fake_docker()
    docker.image.details["python:3.13-slim-trixie"] = SimpleNamespace(
        config=SimpleNamespace(labels={}),
        repo_digests=["registry.example/python@" + STANDIN_DIGEST, "python@" + DIGEST],
    )
    assert resolve_refs(docker, lock) == {"PYTHON_IMAGE": f"python:3.13-slim-trixie@{DIGEST}"}
    # A stand-in tagged under that name is not the official image: its registry ref is used.
    docker.image.details["python:3.13-slim-trixie"] = SimpleNamespace(
        config=SimpleNamespace(labels={"io.driftwood.standin": "true"}),
        repo_digests=["127.0.0.1:5000/library/python@" + STANDIN_DIGEST],
    )
    registry_digest["library/python:3.13-slim-trixie"] = STANDIN_DIGEST
    assert resolve_refs(docker, lock)["PYTHON_IMAGE"].startswith("127.0.0.1:5000/")


def test_neither_says_to_run_setup(tmp_path, registry_digest) -> None:
    lock = load_lock(write_lock(tmp_path, ENTRY.format(digest="null")))
    with pytest.raises(LookupError, match="invoke setup"):
        resolve_refs(fake_docker(), lock)
