"""The base image lock (deploy/base-images.yaml) and the refs every build and stack uses.

`resolve_refs(docker)` maps each build-argument / compose variable (DEBIAN_IMAGE, ...) to a
ref pinned by digest that works *now* on this host: the official image when it is present
or pullable, else the local stand-in from the local registry. Files keep naming the official
image; only the value invoke passes in changes.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from ops import registry

LOCK = Path(__file__).resolve().parent.parent / "deploy" / "base-images.yaml"
PULL_TIMEOUT = 20.0
# Set on every stand-in `invoke setup` builds (ops/standins.py), with the official ref it
# stands in for.
STANDIN_LABEL = "io.driftwood.standin"


class LockError(ValueError):
    """deploy/base-images.yaml is malformed; the message names the entry and field."""


@dataclass(frozen=True)
class BaseImage:
    name: str
    ref: str
    variable: str
    platforms: tuple[str, ...]
    digest: str | None
    packages: tuple[str, ...]
    version_package: str
    suite: str
    # Packages taken from a newer Debian suite than `suite`, with what they need from it.
    newer_suite: str | None = None
    newer_packages: tuple[str, ...] = ()

    @property
    def arches(self) -> tuple[str, ...]:
        """Debian's names for the platforms' CPUs: `("amd64", "arm64")`."""
        return tuple(platform.split("/")[1] for platform in self.platforms)

    @property
    def repository(self) -> str:
        return self.ref.rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.ref.rsplit(":", 1)[1]

    @property
    def tag_version(self) -> str | None:
        """The version the tag promises: `"3.13"` for `3.13-slim-trixie`, None for `trixie-slim`."""
        match = re.match(r"\d+(\.\d+)*", self.tag)
        return match.group(0) if match else None

    @property
    def local_repository(self) -> str:
        """Where the stand-in lives in the local registry (Docker Hub's `library/` layout)."""
        return self.repository if "/" in self.repository else f"library/{self.repository}"

    @property
    def standin_ref(self) -> str:
        return f"{registry.ADDRESS}/{self.local_repository}:{self.tag}"


def load_lock(path: Path = LOCK) -> dict[str, BaseImage]:
    """Parse the lock into `BaseImage`s keyed by name, or raise LockError naming the field."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("images"), dict):
        raise LockError(f"{path}: expected a mapping with `suite` and `images`")
    suite = _field(data, "suite", str, path.name)
    return {
        name: _image(name, entry, suite, f"{path.name}: images.{name}")
        for name, entry in data["images"].items()
    }


def _image(name: str, entry: Any, suite: str, where: str) -> BaseImage:
    if not isinstance(entry, dict):
        raise LockError(f"{where}: expected a mapping")
    ref = _field(entry, "ref", str, where)
    if ":" not in ref or "@" in ref:
        raise LockError(f"{where}.ref: expected NAME:TAG without a digest, got {ref!r}")
    digest = entry.get("digest")
    if digest is not None and not re.fullmatch(r"sha256:[0-9a-f]{64}", str(digest)):
        raise LockError(f"{where}.digest: expected sha256:<64 hex> or null, got {digest!r}")
    standin = _field(entry, "standin", dict, where)
    packages = tuple(_field(standin, "packages", list, f"{where}.standin"))
    newer_suite, newer_packages = _newer(standin, packages, f"{where}.standin.newer")
    return BaseImage(
        name=name,
        ref=ref,
        variable=_field(entry, "variable", str, where),
        platforms=tuple(_field(entry, "platforms", list, where)),
        digest=digest,
        packages=packages,
        version_package=_field(standin, "version_package", str, f"{where}.standin"),
        suite=suite,
        newer_suite=newer_suite,
        newer_packages=newer_packages,
    )


def _newer(
    standin: dict[str, Any], packages: tuple[str, ...], where: str
) -> tuple[str | None, tuple[str, ...]]:
    """The optional `newer: {suite: sid, packages: [nginx]}` of a stand-in recipe."""
    newer = standin.get("newer")
    if newer is None:
        return None, ()
    if not isinstance(newer, dict):
        raise LockError(f"{where}: expected a mapping with `suite` and `packages`")
    wanted = tuple(_field(newer, "packages", list, where))
    unknown = [name for name in wanted if name not in packages]
    if not wanted or unknown:
        raise LockError(
            f"{where}.packages: expected some of the stand-in's packages, got {unknown or wanted!r}"
        )
    return _field(newer, "suite", str, where), wanted


def _field(mapping: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise LockError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def official_ref(docker: DockerClient, image: BaseImage) -> str | None:
    """The official image pinned by digest when it can be used here, else None.

    With a digest in the lock: that digest, when it is here or can be pulled quickly. Without
    one: the digest the registry served when `invoke setup` pulled the tag (its RepoDigests),
    never a local stand-in tagged under the same name.
    """
    if image.digest is not None:
        pinned = f"{image.ref}@{image.digest}"
        return pinned if docker.image.exists(pinned) or try_pull(docker, pinned) else None
    if not docker.image.exists(image.ref):
        return None
    found = docker.image.inspect(image.ref)
    if (found.config.labels or {}).get(STANDIN_LABEL) == "true":
        return None
    pulled = [ref for ref in found.repo_digests or [] if ref.split("@")[0] == image.repository]
    return f"{image.ref}@{pulled[0].split('@')[1]}" if pulled else None


def try_pull(docker: DockerClient, ref: str, timeout: float = PULL_TIMEOUT) -> bool:
    """Pull `ref`, giving up after `timeout` s (networks that drop packets hang, not fail)."""
    outcome: list[bool] = []

    def pull() -> None:
        try:
            docker.image.pull(ref, quiet=True)
            outcome.append(True)
        except DockerException:
            outcome.append(False)

    worker = threading.Thread(target=pull, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(outcome and outcome[0])


def resolve_refs(docker: DockerClient, lock: dict[str, BaseImage] | None = None) -> dict[str, str]:
    """Variable name -> a ref pinned by digest that can be used on this host right now."""
    refs: dict[str, str] = {}
    for image in (lock or load_lock()).values():
        official = official_ref(docker, image)
        if official:
            refs[image.variable] = official
            continue
        digest = registry.manifest_digest(image.local_repository, image.tag)
        if digest is None:
            raise LookupError(
                f"{image.ref} cannot be pulled and its stand-in is not in the local registry"
                f" ({image.standin_ref}); run `invoke setup`"
            )
        refs[image.variable] = f"{image.standin_ref}@{digest}"
    return refs
