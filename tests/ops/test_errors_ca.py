"""Docker failures become one clear message; the host CA bundle is found where it lives."""

from pathlib import Path

import pytest
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException

from ops import ca
from ops.errors import NO_CLIENT, NO_ENGINE, explain


def failure(stderr: str, command: tuple[str, ...] = ("docker", "image", "pull", "x")):
    return DockerException(list(command), 1, stderr=stderr.encode())


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", NO_ENGINE),
        ("dial tcp 127.0.0.1:5000: connect: connection refused", "invoke setup"),
        ("lookup registry-1.docker.io: no such host", "stand-ins"),
        ("Error response from daemon: client version 1.50 is too new", "Engine 26"),
    ],
)
def test_known_failures_name_cause_and_fix(stderr: str, expected: str) -> None:
    assert expected in explain(failure(stderr))


def test_unknown_failure_names_the_command_and_last_line() -> None:
    message = explain(failure("step 1\nERROR: something odd\n", ("docker", "buildx", "build")))
    assert message == "`docker buildx build` failed: ERROR: something odd"


def test_missing_client() -> None:
    assert explain(ClientNotFoundError()) == NO_CLIENT


def test_ca_bundle_prefers_ssl_cert_file(tmp_path: Path, monkeypatch) -> None:
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert ca.host_ca_bundle() == bundle
    assert ca.build_secrets() == [f"id=ca,src={bundle}"]


def test_no_bundle_no_secret(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setattr(ca, "CANDIDATES", (tmp_path / "absent.pem",))
    assert ca.host_ca_bundle() is None
    assert ca.build_secrets() == []
