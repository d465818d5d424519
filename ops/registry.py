"""The local OCI registry on 127.0.0.1:5000, run as a host process, and the small client of
the registry HTTP API (/v2/) every module uses.

Debian's `docker-registry` package (CNCF distribution 2.8) serves it, so no registry image
has to be pulled. Config in deploy/registry/config.yml (storage under
/var/lib/driftwood/registry, deletion enabled); no systemd here, so we start it detached
with its log in a file and its pid in a pid file, and wait until `/v2/` answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADDRESS = "127.0.0.1:5000"
CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "registry" / "config.yml"
STORAGE = Path("/var/lib/driftwood/registry")
LOG = Path("/var/log/driftwood/registry.log")
PIDFILE = Path("/run/driftwood/registry.pid")


class RegistryError(Exception):
    """A registry refused a request or cannot be reached, or its housekeeping failed; the
    message says which and what to do. `status` is the HTTP status when one came back."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Instance:
    """One registry process: where it listens, stores, logs and records its pid. The host's
    is `HOST`; tests run a throwaway one beside it (the config file is shared: these two
    settings are overridden through the registry's REGISTRY_* environment variables)."""

    address: str = ADDRESS
    storage: Path = STORAGE
    log: Path = LOG
    pidfile: Path = PIDFILE

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "REGISTRY_HTTP_ADDR": self.address,
            "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(self.storage),
        }


HOST = Instance()
# Registries this process started, kept so `stop` can reap them (no zombie, no warning).
_started: dict[int, subprocess.Popen[bytes]] = {}
# Where no Debian package is at hand (a laptop with Docker Desktop), the official image
# gives the same registry.
MANUAL_FIX = (
    "docker run -d --name driftwood-registry --restart=always -p 127.0.0.1:5000:5000"
    " -e REGISTRY_STORAGE_DELETE_ENABLED=true -v driftwood-registry:/var/lib/registry registry:2"
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    *INDEX_TYPES,
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
# A registry on this host is asked directly, never through a proxy from the environment;
# any other goes through it, as the engine's own pulls do.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PROXIED = urllib.request.build_opener()


def call(
    address: str, path: str, method: str = "GET", timeout: float = 10.0
) -> tuple[bytes, dict[str, str]]:
    """One request to `address`'s /v2/ API: the body and the headers (names lower-cased).
    Plain HTTP on the loopback interface (the only place the engine trusts it), else HTTPS."""
    local = address.rsplit(":", 1)[0] in LOOPBACK
    request = urllib.request.Request(  # noqa: S310 (always http(s))
        f"{'http' if local else 'https'}://{address}/v2/{path}",
        method=method,
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    try:
        with (_DIRECT if local else _PROXIED).open(request, timeout=timeout) as response:
            return response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTPError holds the open response
        raise RegistryError(
            f"{address}: {method} /v2/{path} answered {exc.code}", exc.code
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise RegistryError(
            f"the registry {address} is unreachable ({exc}): `invoke setup` starts the local "
            "one, or pass --registry"
        ) from exc


def answering(address: str = ADDRESS, timeout: float = 2.0) -> bool:
    """True when the registry's API base `/v2/` answers 200."""
    try:
        call(address, "", timeout=timeout)
    except RegistryError:
        return False
    return True


def read_manifest(address: str, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
    """The digest and JSON of the manifest or index `reference` (a tag or digest) names."""
    body, headers = call(address, f"{repository}/manifests/{reference}")
    return headers["docker-content-digest"], json.loads(body)


def manifest_digest(repository: str, tag: str, address: str = ADDRESS) -> str | None:
    """The digest the registry serves for `repository:tag` (an OCI index for multi-arch),
    None when it has no such tag or does not answer."""
    try:
        _, headers = call(address, f"{repository}/manifests/{tag}", method="HEAD", timeout=5)
    except RegistryError:
        return None
    return headers.get("docker-content-digest")


def _binary() -> str:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise FileNotFoundError(
            "docker-registry is not installed (apt-get install docker-registry)"
        )
    return binary


def start(timeout: float = 30.0, where: Instance = HOST) -> int:
    """Start `docker-registry serve` detached; wait until it answers; return its pid."""
    binary = _binary()
    for directory in (where.storage, where.log.parent, where.pidfile.parent):
        directory.mkdir(parents=True, exist_ok=True)
    with where.log.open("ab") as out:
        process = subprocess.Popen(
            [binary, "serve", str(CONFIG)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=where.environment(),
            start_new_session=True,
        )
    where.pidfile.write_text(f"{process.pid}\n")
    _started[process.pid] = process
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answering(where.address):
            return process.pid
        if process.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"the registry did not answer on {where.address}; see {where.log}")


def delete_image(repository: str, reference: str, address: str = ADDRESS) -> list[str]:
    """Delete `repository:reference` (a tag or a digest) from the registry: the manifest, every
    tag pointing at it, and for an index the platform manifests it lists. Returns the digests
    deleted ([] when there was nothing to delete). Blobs stay until `collect_garbage`."""
    try:
        digest, manifest = read_manifest(address, repository, reference)
    except RegistryError as exc:
        if exc.status == 404:
            return []
        raise
    children = []
    if manifest.get("mediaType") in INDEX_TYPES:
        children = [entry["digest"] for entry in manifest.get("manifests", [])]
    deleted = []
    # The index first: a platform manifest deleted while an index still lists it would leave
    # a pullable tag that fails halfway.
    for target in [digest, *children]:
        try:
            call(address, f"{repository}/manifests/{target}", method="DELETE")
            deleted.append(target)
        except RegistryError as exc:
            if exc.status != 404:  # already gone (shared with another index): fine
                raise
    return deleted


def running_pid(where: Instance = HOST) -> int | None:
    """The pid of the registry process `start` recorded, when it is still alive."""
    try:
        pid = int(where.pidfile.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def stop(where: Instance = HOST, timeout: float = 15.0) -> None:
    """SIGTERM the registry process `start` recorded, and wait until it is gone."""
    pid = running_pid(where)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    if pid in _started:  # our child: wait reaps it
        _started.pop(pid).wait(timeout)
        return
    deadline = time.monotonic() + timeout
    while running_pid(where) is not None and time.monotonic() < deadline:
        time.sleep(0.2)


def storage_bytes(where: Instance = HOST) -> int:
    return sum(f.stat().st_size for f in where.storage.rglob("*") if f.is_file())


def collect_garbage(show: Callable[[str], None] = print, where: Instance = HOST) -> int:
    """Free the blobs no manifest references any more; returns the bytes freed.

    The registry must not accept pushes while it collects (a blob uploaded during the mark
    phase would be swept), so the process this module started is stopped, the collector
    runs, and the registry is started again. `--delete-untagged` is deliberately not used:
    distribution 2.8 treats a multi-arch index's platform manifests as untagged and deletes
    them (distribution/distribution#3178), breaking every multi-platform image. Delete what
    you no longer want with `delete_image` first; this then frees its layers.
    """
    binary = _binary()
    pid = running_pid(where)
    before = storage_bytes(where)
    if pid is not None:
        show(f"-> stop the registry (pid {pid}) so nothing is pushed while it collects")
        stop(where)
    show("-> mark the blobs manifests reference, sweep the rest")
    result = subprocess.run(
        [binary, "garbage-collect", str(CONFIG)],
        capture_output=True,
        text=True,
        env=where.environment(),
    )
    if pid is not None:
        show(f"-> start the registry again: pid {start(where=where)}")
    if result.returncode != 0:
        raise RegistryError(f"garbage-collect failed: {result.stderr.strip()[-500:]}")
    freed = before - storage_bytes(where)
    show(f"   freed {freed / 1e6:.1f} MB")
    return freed
