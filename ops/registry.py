"""The local OCI registry on 127.0.0.1:5000, run as a host process.

Debian's `docker-registry` package (CNCF distribution 2.8) serves it, so no registry image
has to be pulled. Config in deploy/registry/config.yml (storage under
/var/lib/driftwood/registry, deletion enabled); no systemd here, so we start it detached
with its log in a file and its pid in a pid file, and wait until `/v2/` answers.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ADDRESS = "127.0.0.1:5000"
CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "registry" / "config.yml"
STORAGE = Path("/var/lib/driftwood/registry")
LOG = Path("/var/log/driftwood/registry.log")
PIDFILE = Path("/run/driftwood/registry.pid")
# Where no Debian package is at hand (a laptop with Docker Desktop), the official image
# gives the same registry.
MANUAL_FIX = (
    "docker run -d --name driftwood-registry --restart=always -p 127.0.0.1:5000:5000"
    " -e REGISTRY_STORAGE_DELETE_ENABLED=true -v driftwood-registry:/var/lib/registry registry:2"
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
# Never send requests for localhost through a proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answering(address: str = ADDRESS, timeout: float = 2.0) -> bool:
    """True when the registry's API base `/v2/` answers 200."""
    try:
        with _DIRECT.open(f"http://{address}/v2/", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def manifest_digest(repository: str, tag: str, address: str = ADDRESS) -> str | None:
    """The digest the registry serves for `repository:tag` (an OCI index for multi-arch)."""
    request = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    try:
        with _DIRECT.open(request, timeout=5) as response:
            return response.headers.get("Docker-Content-Digest")
    except (urllib.error.URLError, OSError):
        return None


def start(timeout: float = 30.0) -> int:
    """Start `docker-registry serve` detached; wait until it answers; return its pid."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise FileNotFoundError(
            "docker-registry is not installed (apt-get install docker-registry)"
        )
    for directory in (STORAGE, LOG.parent, PIDFILE.parent):
        directory.mkdir(parents=True, exist_ok=True)
    with LOG.open("ab") as out:
        process = subprocess.Popen(
            [binary, "serve", str(CONFIG)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    PIDFILE.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answering():
            return process.pid
        if process.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"the registry did not answer on {ADDRESS}; see {LOG}")
