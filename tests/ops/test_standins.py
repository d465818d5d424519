"""Stand-in recipes, caching keys, labels and version notes (no engine, no mmdebstrap)."""

import io
import shutil
import tarfile
from dataclasses import replace
from pathlib import Path

from ops import standins
from ops.baseimages import load_lock
from ops.standins import (
    Seeded,
    cache_key,
    labels,
    mmdebstrap_argv,
    package_versions,
    recipe,
    versions_from_labels,
)

MIRROR = "http://deb.debian.org/debian"
LOCK = load_lock()


def test_mmdebstrap_builds_a_slim_minbase_with_updates_and_security() -> None:
    argv = mmdebstrap_argv(LOCK["python"], "arm64", MIRROR, Path("/tmp/out.tar"))
    assert argv[:3] == ["mmdebstrap", "--variant=minbase", "--arch=arm64"]
    assert "--include=python3,python-is-python3,python3-pip,python3-venv," in ",".join(argv) + ","
    assert "--dpkgopt=path-exclude=/usr/share/man/*" in argv
    # Licences stay for scanners.
    assert "--dpkgopt=path-include=/usr/share/doc/*/copyright" in argv
    assert argv[-4:] == [
        "/tmp/out.tar",
        f"deb {MIRROR} trixie main",
        f"deb {MIRROR} trixie-updates main",
        "deb http://deb.debian.org/debian-security trixie-security main",
    ]
    hooks = [a for a in argv if a.startswith("--hook-dir=")]
    assert [Path(h.split("=", 1)[1]).parent.name for h in hooks] == ["common", "python"]


def test_packages_from_a_newer_suite_are_pinned_low_and_leave_no_trace() -> None:
    nginx = LOCK["nginx"]
    assert nginx.newer_suite == "sid"
    argv = mmdebstrap_argv(nginx, "amd64", MIRROR, Path("/tmp/out.tar"))
    assert "--include=nginx/sid,gettext-base,ca-certificates" in argv
    assert argv[-1] == f"deb {MIRROR} sid main"
    setup = next(a for a in argv if a.startswith("--setup-hook="))
    assert "Pin: release n=sid" in setup and "Pin-Priority: 100" in setup
    # The finished rootfs has neither the suite, its pin, nor the expiry override.
    customize = next(a for a in argv if a.startswith("--customize-hook="))
    assert "/etc/apt/preferences.d/driftwood-sid" in customize
    assert "99mmdebstrap" in customize and "/ sid main$/d" in customize
    assert labels(nginx, {})["io.driftwood.standin.debian-suite"] == "trixie (nginx from sid)"
    assert cache_key(nginx, "amd64", MIRROR) != cache_key(
        replace(nginx, newer_suite=None, newer_packages=()), "amd64", MIRROR
    )
    python = mmdebstrap_argv(LOCK["python"], "amd64", MIRROR, Path("/tmp/out.tar"))
    assert not [a for a in python if "sid" in a]


def test_cache_key_follows_packages_arch_mirror_and_hooks(tmp_path, monkeypatch) -> None:
    python = LOCK["python"]
    key = cache_key(python, "amd64", MIRROR)
    assert key == cache_key(python, "amd64", MIRROR)
    assert key != cache_key(python, "arm64", MIRROR)
    assert key != cache_key(python, "amd64", "http://other/debian")
    assert key != cache_key(replace(python, packages=("python3",)), "amd64", MIRROR)

    hooks = tmp_path / "python" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "setup10-x").write_text("echo one\n")
    monkeypatch.setattr(standins, "STANDINS", tmp_path)
    before = cache_key(python, "amd64", MIRROR)
    (hooks / "setup10-x").write_text("echo two\n")
    changed = cache_key(python, "amd64", MIRROR)
    assert changed != before

    # The same files in another checkout (CI clones to a new folder each run): same key.
    elsewhere = tmp_path / "clone"
    shutil.copytree(tmp_path / "python", elsewhere / "python")
    monkeypatch.setattr(standins, "STANDINS", elsewhere)
    assert cache_key(python, "amd64", MIRROR) == changed


def test_recipe_changes_with_the_stand_ins_files_and_packages(tmp_path, monkeypatch) -> None:
    postgres = LOCK["postgres"]
    folder = tmp_path / "postgres"
    (folder / "hooks").mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM scratch\n")
    monkeypatch.setattr(standins, "STANDINS", tmp_path)
    before = recipe(postgres)
    assert before == recipe(postgres)
    assert before != recipe(replace(postgres, packages=("postgresql-17", "less")))
    (folder / "docker-entrypoint.sh").write_text("#!/bin/sh\n")
    assert recipe(postgres) != before
    assert labels(postgres, {})["io.driftwood.standin.recipe"] == recipe(postgres)


def tarball_with_status(tmp_path: Path, status: str) -> Path:
    path = tmp_path / "rootfs.tar"
    data = status.encode()
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("./var/lib/dpkg/status")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


STATUS = """\
Package: python3
Status: install ok installed
Version: 3.13.5-1
Description: interactive high-level object-oriented language
 continuation line: not a field

Package: nginx
Status: deinstall ok config-files
Version: 1.26.3-3

Package: base-files
Status: install ok installed
Version: 13.8+deb13u8
"""


def test_package_versions_reads_installed_packages_only(tmp_path: Path) -> None:
    versions = package_versions(tarball_with_status(tmp_path, STATUS))
    assert versions == {"python3": "3.13.5-1", "base-files": "13.8+deb13u8"}


def test_labels_say_stand_in_suite_and_real_versions() -> None:
    result = labels(LOCK["python"], {"python3": "3.13.5-1", "base-files": "13.8+deb13u8"})
    assert result["io.driftwood.standin"] == "true"
    assert result["io.driftwood.standin.for"] == "python:3.13-slim-trixie"
    assert result["io.driftwood.standin.debian-suite"] == "trixie"
    assert result["org.opencontainers.image.version"] == "3.13.5"
    assert result["io.driftwood.standin.packages"] == "python3=3.13.5-1 base-files=13.8+deb13u8"
    assert "stand-in" in result["org.opencontainers.image.description"]
    assert versions_from_labels(result) == {"python3": "3.13.5-1", "base-files": "13.8+deb13u8"}


def test_version_note_only_when_the_tag_promises_another_version() -> None:
    nginx = Seeded(LOCK["nginx"], "built", {"nginx": "1.26.3-3+deb13u1"})
    assert nginx.version_note() == (
        "nginx:1.30-trixie: the stand-in has nginx 1.26.3-3+deb13u1"
        " (Debian trixie (nginx from sid)), not 1.30 as the tag says"
    )
    assert Seeded(LOCK["nginx"], "built", {"nginx": "1.30.6-2"}).version_note() is None
    assert Seeded(LOCK["python"], "built", {"python3": "3.13.5-1"}).version_note() is None
    assert (
        Seeded(LOCK["postgres"], "built", {"postgresql-17": "17.6-0+deb13u1"}).version_note()
        is None
    )
    # debian:trixie-slim promises no version; a present image has no versions to compare.
    assert Seeded(LOCK["debian"], "built", {"base-files": "13.8"}).version_note() is None
    assert Seeded(LOCK["nginx"], "present").version_note() is None


def test_rootfs_all_makes_every_platform_foreign_ones_first(monkeypatch) -> None:
    started: list[tuple[str, str]] = []

    def fake_rootfs(image, arch, mirror, say) -> Path:
        started.append((image.name, arch))
        return Path(f"/cache/{image.name}-{arch}.tar")

    monkeypatch.setattr(standins, "rootfs", fake_rootfs)
    monkeypatch.setattr(standins, "ROOTFS_JOBS", 1)
    monkeypatch.setattr(standins, "NATIVE_ARCH", "amd64")
    tarballs = standins.rootfs_all([LOCK["debian"], LOCK["postgres"]], MIRROR, print)
    assert tarballs == {
        ("debian", "amd64"): Path("/cache/debian-amd64.tar"),
        ("debian", "arm64"): Path("/cache/debian-arm64.tar"),
        ("postgres", "amd64"): Path("/cache/postgres-amd64.tar"),
    }
    # The emulated build is the long one: it starts before the native ones.
    assert started[0] == ("debian", "arm64")
