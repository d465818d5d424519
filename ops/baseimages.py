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
    return BaseImage(
        name=name,
        ref=ref,
        variable=_field(entry, "variable", str, where),
        platforms=tuple(_field(entry, "platforms", list, where)),
        digest=digest,
        packages=tuple(_field(standin, "packages", list, f"{where}.standin")),
        version_package=_field(standin, "version_package", str, f"{where}.standin"),
        suite=suite,
    )


def _field(mapping: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise LockError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def official_available(docker: DockerClient, image: BaseImage) -> bool:
    """True when the official image, by digest, is here or can be pulled quickly."""
    if image.digest is None:
        return False
    pinned = f"{image.ref}@{image.digest}"
    if docker.image.exists(pinned):
        return True
    return try_pull(docker, pinned)


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
        if official_available(docker, image):
            refs[image.variable] = f"{image.ref}@{image.digest}"
            continue
        digest = registry.manifest_digest(image.local_repository, image.tag)
        if digest is None:
            raise LookupError(
                f"{image.ref} cannot be pulled and its stand-in is not in the local registry"
                f" ({image.standin_ref}); run `invoke setup`"
            )
        refs[image.variable] = f"{image.standin_ref}@{digest}"
    return refs
