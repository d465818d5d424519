"""Offline stand-ins for the official base images, built from Debian packages.

When a base image named in deploy/base-images.yaml cannot be pulled, `seed()` builds one:
`mmdebstrap` makes a rootfs tarball per architecture (cached under CACHE, keyed by
everything that goes into it), then `deploy/standins/NAME/Dockerfile`, which has no `RUN`,
adds it and the image's entrypoint. One buildx build makes every platform of the image.

Where the result lives, found by trying it with the default `docker` driver and the
containerd image store (Engine 26.1, buildx 0.13): the build is pushed to the local
registry as one OCI index (127.0.0.1:5000/library/NAME:TAG), and also kept in the engine's
image store, where it is tagged under the very name our files use (NAME:TAG) with all its
platforms. Both work as a base:
- `FROM python:3.13-slim-trixie` resolves to the local multi-platform image, for one
  platform or for `--platform linux/amd64,linux/arm64`, with no registry involved;
- the pinned ref `resolve_refs()` returns, 127.0.0.1:5000/library/NAME:TAG@sha256:...,
  resolves through the registry, for buildx and for `docker compose` alike.
`python:3.13-slim-trixie@sha256:<stand-in digest>` resolves too (the containerd store keeps
the index by digest), but it reads as the official image and no registry anywhere serves
it, so resolve_refs pins the registry ref instead.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from ops import registry
from ops.baseimages import STANDIN_LABEL, BaseImage, load_lock, try_pull
from ops.bootstrap import host_mirror

STANDINS = Path(__file__).resolve().parent.parent / "deploy" / "standins"
CACHE = Path("/var/cache/driftwood")
# What the official *-slim images leave out (debuerreotype's slimify list), minus the
# copyright files: scanners read licences from them.
SLIM_DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/lintian/overrides/*",
    "path-exclude=/usr/share/linda/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)

# Two mmdebstraps at a time: one per core of our machines (see rootfs_all).
ROOTFS_JOBS = 2
NATIVE_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), "amd64")

Say = Callable[[str], None]


@dataclass(frozen=True)
class Seeded:
    """What seeding did for one image, and the real versions inside a stand-in."""

    image: BaseImage
    outcome: str  # "present", "pulled", "built"
    versions: dict[str, str] = field(default_factory=dict)

    def version_note(self) -> str | None:
        """A warning when the tag promises a version the stand-in does not have."""
        promised = self.image.tag_version
        real = self.versions.get(self.image.version_package)
        if promised is None or real is None or _upstream(real).startswith(promised):
            return None
        return (
            f"{self.image.ref}: the stand-in has {self.image.version_package} {real}"
            f" (Debian {debian_suites(self.image)}), not {promised} as the tag says"
        )


def _upstream(version: str) -> str:
    """Debian version -> upstream version: `1:3.13.5-1+b1` -> `3.13.5`."""
    return version.split(":", 1)[-1].rsplit("-", 1)[0]


def sources(mirror: str, suite: str) -> list[str]:
    """apt sources for the rootfs, which stay in the image: main, updates and security."""
    security = mirror.rstrip("/") + "-security"
    return [
        f"deb {mirror} {suite} main",
        f"deb {mirror} {suite}-updates main",
        f"deb {security} {suite}-security main",
    ]


def hook_dirs(image: BaseImage) -> list[Path]:
    dirs = [STANDINS / "common" / "hooks", STANDINS / image.name / "hooks"]
    return [d for d in dirs if d.is_dir()]


def newer_suite_options(image: BaseImage) -> list[str]:
    """mmdebstrap options that take `image.newer_packages` from `image.newer_suite`.

    That suite is pinned low (100, like backports), so apt takes from it only the packages
    named `pkg/suite` and the versions their dependencies require; everything else stays on
    `image.suite` and its security updates. It is gone from the finished rootfs: an unstable
    suite's Release expires within a week (a mirror snapshot serves an expired one, hence
    Check-Valid-Until during the build), and the image's own `apt-get update` must keep working.
    """
    suite = image.newer_suite
    if suite is None:
        return []
    pin = f"/etc/apt/preferences.d/driftwood-{suite}"
    return [
        '--aptopt=Acquire::Check-Valid-Until "false"',
        f'--setup-hook=mkdir -p "$1/etc/apt/preferences.d"'
        f' && printf "Package: *\\nPin: release n={suite}\\nPin-Priority: 100\\n" > "$1{pin}"',
        f'--customize-hook=rm "$1{pin}" "$1/etc/apt/apt.conf.d/99mmdebstrap"'
        f' && sed -i "/ {suite} main$/d" "$1/etc/apt/sources.list"',
    ]


def mmdebstrap_argv(image: BaseImage, arch: str, mirror: str, out: Path) -> list[str]:
    argv = ["mmdebstrap", "--variant=minbase", f"--arch={arch}"]
    if image.packages:
        names = [
            f"{name}/{image.newer_suite}" if name in image.newer_packages else name
            for name in image.packages
        ]
        argv.append("--include=" + ",".join(names))
    argv += [f"--dpkgopt={option}" for option in SLIM_DPKG_OPTIONS]
    argv += newer_suite_options(image)
    argv += [f"--hook-dir={d}" for d in hook_dirs(image)]
    extra = [f"deb {mirror} {image.newer_suite} main"] if image.newer_suite else []
    return [*argv, image.suite, str(out), *sources(mirror, image.suite), *extra]


def cache_key(image: BaseImage, arch: str, mirror: str) -> str:
    """Changes whenever anything that shapes the rootfs changes: arguments or hook scripts."""
    digest = hashlib.sha256()
    for part in mmdebstrap_argv(image, arch, mirror, Path("-")):
        # Hook folders by their place in the repository, not on this disk: every checkout
        # (CI clones to a new temporary folder each run) shares the cache.
        digest.update(part.replace(str(STANDINS), "deploy/standins").encode() + b"\0")
    for directory in hook_dirs(image):
        for hook in sorted(directory.iterdir()):
            digest.update(hook.name.encode() + b"\0" + hook.read_bytes())
    return digest.hexdigest()[:16]


def rootfs(image: BaseImage, arch: str, mirror: str, say: Say) -> Path:
    """The cached rootfs tarball for `image` on `arch`, made with mmdebstrap when missing.

    mmdebstrap's own lines are passed on prefixed with the image and architecture, since
    several run at once (`rootfs_all`). Delete CACHE/rootfs to take newer Debian packages
    (security updates) into the stand-ins.
    """
    path = CACHE / "rootfs" / f"{image.name}-{arch}-{cache_key(image, arch, mirror)}.tar"
    if path.exists():
        say(f"   {image.name} {arch}: rootfs cached ({path.name})")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.tar")
    emulated = " (under QEMU: minutes)" if arch != NATIVE_ARCH else ""
    say(f"   {image.name} {arch}: mmdebstrap {image.suite}{emulated}")
    started = time.monotonic()
    argv = mmdebstrap_argv(image, arch, mirror, partial)
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            say(f"   {image.name} {arch}| {line.rstrip()}")
    if process.returncode != 0:
        raise RuntimeError(
            f"seeding {image.ref} failed: mmdebstrap for {arch} exited {process.returncode}"
            " (its lines are above)"
        )
    partial.replace(path)
    size = path.stat().st_size / 1e6
    say(f"   {image.name} {arch}: rootfs {size:.0f} MB in {time.monotonic() - started:.0f} s")
    return path


def rootfs_all(images: list[BaseImage], mirror: str, say: Say) -> dict[tuple[str, str], Path]:
    """Every platform's rootfs of `images`, `ROOTFS_JOBS` mmdebstraps at a time.

    mmdebstrap installs one package after another, so one run keeps one core busy; a foreign
    architecture's runs (dpkg and maintainer scripts under QEMU, several minutes each on a
    bare machine) go first, so the native ones fill the other core meanwhile.
    """
    wanted = [(image, arch) for image in images for arch in image.arches]
    wanted.sort(key=lambda pair: pair[1] == NATIVE_ARCH)
    lock = threading.Lock()

    def say_whole_lines(line: str) -> None:
        with lock:
            say(line)

    with ThreadPoolExecutor(max_workers=ROOTFS_JOBS) as pool:
        futures = {
            (image.name, arch): pool.submit(rootfs, image, arch, mirror, say_whole_lines)
            for image, arch in wanted
        }
        return {key: future.result() for key, future in futures.items()}


def recipe(image: BaseImage) -> str:
    """A fingerprint of everything a stand-in is made from (its folder, the shared hooks, the
    package list): recorded as a label, so a changed recipe is rebuilt on machines that
    already hold the old stand-in (the rootfs tarball is reused when its own key holds)."""
    newer = [image.newer_suite, *image.newer_packages] if image.newer_suite else []
    digest = hashlib.sha256(" ".join([image.suite, *image.packages, *newer]).encode())
    for folder in [STANDINS / image.name, *hook_dirs(image)]:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(STANDINS)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def package_versions(tarball: Path) -> dict[str, str]:
    """Every installed package's version, read from dpkg's status file inside the tarball."""
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("./var/lib/dpkg/status")
        text = member.read().decode() if member else ""
    versions: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            versions[fields["Package"]] = fields["Version"]
    return versions


def labels(image: BaseImage, versions: dict[str, str]) -> dict[str, str]:
    """OCI labels, plus ours that say this is a local stand-in and what is really inside."""
    wanted = dict.fromkeys([image.version_package, *image.packages, "base-files"])
    inside = " ".join(f"{name}={versions[name]}" for name in wanted if name in versions)
    real = _upstream(versions.get(image.version_package, "unknown"))
    return {
        "org.opencontainers.image.title": image.ref,
        "org.opencontainers.image.description": (
            f"Local stand-in for the official {image.ref} image, built from Debian"
            f" {debian_suites(image)} packages by Driftwood's `invoke setup`"
        ),
        "org.opencontainers.image.version": real,
        "org.opencontainers.image.vendor": "Driftwood (local stand-in, not the official image)",
        STANDIN_LABEL: "true",
        f"{STANDIN_LABEL}.for": image.ref,
        f"{STANDIN_LABEL}.debian-suite": debian_suites(image),
        f"{STANDIN_LABEL}.packages": inside,
        f"{STANDIN_LABEL}.recipe": recipe(image),
    }


def debian_suites(image: BaseImage) -> str:
    """`trixie`, or `trixie (nginx from sid)` when some packages come from a newer suite."""
    if image.newer_suite is None:
        return image.suite
    return f"{image.suite} ({', '.join(image.newer_packages)} from {image.newer_suite})"


def versions_from_labels(labels: dict[str, str]) -> dict[str, str]:
    """The real versions a stand-in's label records: `"python3=3.13.5-1 ..."` -> dict."""
    pairs = labels.get(f"{STANDIN_LABEL}.packages", "").split()
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


def present(docker: DockerClient, image: BaseImage) -> Seeded | None:
    """The image is here under its name (a stand-in also in the registry, made from today's
    recipe), or None."""
    if not docker.image.exists(image.ref):
        return None
    labels = docker.image.inspect(image.ref).config.labels or {}
    if labels.get(STANDIN_LABEL) != "true":
        return Seeded(image, "present")
    if labels.get(f"{STANDIN_LABEL}.recipe") != recipe(image):
        return None
    if registry.manifest_digest(image.local_repository, image.tag) is None:
        return None
    return Seeded(image, "present", versions_from_labels(labels))


def build(
    docker: DockerClient,
    image: BaseImage,
    tarballs: dict[tuple[str, str], Path],
    say: Say,
    *,
    force: bool = False,
) -> Seeded:
    """Build the stand-in for every platform from its rootfs tarballs (`rootfs_all`), push it
    as one index, tag it under its name."""
    staging = CACHE / "standins" / image.name
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(STANDINS / image.name, staging, ignore=shutil.ignore_patterns("hooks"))
    for arch in image.arches:
        (staging / f"rootfs-{arch}.tar").hardlink_to(tarballs[image.name, arch])
    versions = package_versions(tarballs[image.name, image.arches[0]])
    say(f"   {image.name}: building {', '.join(image.platforms)} and pushing {image.standin_ref}")
    docker.buildx.build(
        staging,
        platforms=list(image.platforms),
        labels=labels(image, versions),
        # Pushed as an OCI index (Docker's older manifest list is buildx 0.13's default).
        output={
            "type": "image",
            "name": image.standin_ref,
            "push": "true",
            "oci-mediatypes": "true",
        },
        provenance=False,
        cache=not force,
    )
    docker.image.tag(image.standin_ref, image.ref)
    shutil.rmtree(staging)
    return Seeded(image, "built", versions)


def settled(docker: DockerClient, image: BaseImage, say: Say, *, force: bool) -> Seeded | None:
    """The image as it is (present, or pulled now), or None when a stand-in must be built."""
    here = None if force else present(docker, image)
    if here:
        return here
    if not force and try_pull(docker, image.ref):
        return Seeded(image, "pulled")
    say(f"-> {image.ref}: cannot be pulled; building a stand-in from Debian packages")
    return None


@contextmanager
def _seeding(image: BaseImage) -> Iterator[None]:
    """Name the image whose seeding failed."""
    try:
        yield
    except DockerException as error:
        raise RuntimeError(f"seeding {image.ref} failed: {error}") from error


def seed(docker: DockerClient, say: Say, *, force: bool = False) -> list[Seeded]:
    """Make every base image in the lock usable here: present, pulled, or a stand-in."""
    images = list(load_lock().values())
    results: dict[str, Seeded] = {}
    for image in images:
        with _seeding(image):
            result = settled(docker, image, say, force=force)
        if result:
            results[image.name] = result
    to_build = [image for image in images if image.name not in results]
    tarballs = rootfs_all(to_build, host_mirror(), say) if to_build else {}
    for image in to_build:
        with _seeding(image):
            results[image.name] = build(docker, image, tarballs, say, force=force)
    for image in images:
        result = results[image.name]
        if result.outcome != "present":
            say(f"   {image.ref}: {result.outcome}")
        note = result.version_note()
        if note:
            say(f"   note: {note}")
    return [results[image.name] for image in images]
