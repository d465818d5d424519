"""What this working tree is: the project's semantic version and its git commit.

Builds stamp these into OCI labels; pushes turn them into tags.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# semver.org's core, with optional pre-release; build metadata (+...) is not a valid tag.
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?")


@dataclass(frozen=True)
class SourceVersion:
    version: str  # "0.1.0"
    commit: str  # full sha, or "unknown" outside git
    dirty: bool  # uncommitted changes: the image is not exactly `commit`
    commit_time: int  # seconds since the epoch: SOURCE_DATE_EPOCH for repeatable builds

    @property
    def short_commit(self) -> str:
        return self.commit[:12] + ("-dirty" if self.dirty else "")

    @property
    def created(self) -> str:
        return datetime.fromtimestamp(self.commit_time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def project_version(pyproject: Path) -> str:
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    if not SEMVER.fullmatch(version):
        raise ValueError(f"{pyproject}: project.version {version!r} is not a semantic version")
    return version


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return proc.stdout.strip()


def source_version(root: Path) -> SourceVersion:
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    epoch = _git(root, "log", "-1", "--format=%ct")
    return SourceVersion(
        version=project_version(root / "pyproject.toml"),
        commit=commit or "unknown",
        dirty=bool(status),
        commit_time=int(epoch) if epoch else 0,
    )
