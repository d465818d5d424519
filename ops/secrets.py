"""The stack's secrets: files under secrets/, generated on first run, never overwritten.

Compose (outside swarm) bind-mounts a secret file into /run/secrets/ with the file's host
permissions (docker/compose#9648): a 0600 file owned by you would be unreadable to the
non-root users the containers run as. So the *directory* is private (0700: no other host
user can reach the files) and each file is read-only for everyone who can reach it (0444).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

SECRET_MODE = 0o444
DIRECTORY_MODE = 0o700

# File name -> how to make one. Long random values: nothing to guess, no default to forget.
GENERATORS: dict[str, Callable[[], str]] = {
    "db_password.txt": lambda: secrets.token_urlsafe(32),
    "secret_key.txt": lambda: secrets.token_hex(32),
}

TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    directory.chmod(DIRECTORY_MODE)


def _write_new(path: Path, content: str) -> None:
    """Create `path` with `content`; fail rather than replace a file that appeared meanwhile."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(content + "\n")


def ensure_secrets(directory: Path) -> list[Path]:
    """Generate every missing secret file; return the ones created (existing ones are kept)."""
    _private_directory(directory)
    created = []
    for name, generate in GENERATORS.items():
        path = directory / name
        if not path.exists():
            _write_new(path, generate())
            created.append(path)
    return created


def replace_secret(path: Path, content: str) -> None:
    """Replace a secret file whole: a new file, renamed over the old one. A running container
    keeps the file it has mounted (a bind mount holds the old file, not the name); every
    container started afterwards mounts the new one."""
    new = path.with_name(path.name + ".new")
    new.unlink(missing_ok=True)  # left by an interrupted replacement
    _write_new(new, content)
    new.replace(path)


def ensure_tls_certificate(directory: Path, hostname: str = "localhost") -> list[Path]:
    """A self-signed certificate for `hostname` when none is there; real ones replace it."""
    _private_directory(directory)
    cert, key = directory / TLS_CERT, directory / TLS_KEY
    if cert.exists() and key.exists():
        return []
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-noenc", "-days", "365", "-subj", f"/CN={hostname}",
            "-addext", f"subjectAltName=DNS:{hostname},IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    for path in (cert, key):
        path.chmod(SECRET_MODE)
    return [cert, key]
