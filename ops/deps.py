"""The image's hash-locked dependencies: requirements/app.lock, from pyproject.toml.

One lock for every platform the image is built for (--universal: markers instead of one
file per platform), with the hashes pip checks in the Dockerfile (--require-hashes).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOCK = Path("requirements/app.lock")
PYTHON_VERSION = "3.13"  # the runtime's Python (Debian trixie's python3.13)


def lock_command(root: Path, *, upgrade: bool) -> list[str]:
    command = [
        sys.executable, "-m", "uv", "pip", "compile", "pyproject.toml",
        "--universal", "--python-version", PYTHON_VERSION, "--generate-hashes",
        "--output-file", str(LOCK), "--quiet",
    ]  # fmt: skip
    return [*command, "--upgrade"] if upgrade else command


def lock(root: Path, *, upgrade: bool = False) -> Path:
    """Regenerate the lock; without `upgrade`, versions already locked are kept."""
    subprocess.run(lock_command(root, upgrade=upgrade), cwd=root, check=True)
    return root / LOCK
