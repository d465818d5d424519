"""The final stage through the whole release pipeline, as CI and `invoke` drive it: build,
scan against the stage's declared expectations, push for amd64 and arm64 as one index, sign
and attest the SBOM, verify, and run the production stack from the verified digest only.

The stack runs under a project name and ports of its own, so a developer's running stack
and its data are never touched; everything pushed is deleted from the registry afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from ops import runstage
from ops.build import BuildRecord, build_stage
from ops.push import PushRecord, push_stage
from ops.registry import delete_image
from ops.scan import scan_image, write_outputs
from ops.sign import Keys, Verified, ensure_dev_keys, sign, verify
from ops.stack import Stack, down
from ops.stages import Stage, load_stage
from ops.standins import NATIVE_ARCH
from ops.version import SourceVersion
from tests.docker.stacks import APP_ENV, free_port, get_text

pytestmark = [pytest.mark.docker, pytest.mark.stack]

ROOT = Path(__file__).resolve().parents[2]
HOST_ARCH = NATIVE_ARCH


@pytest.fixture(scope="module")
def final() -> Stage:
    return load_stage(ROOT / "stage.toml")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("release")


@pytest.fixture(scope="module")
def built(docker: DockerClient, final: Stage, source: SourceVersion) -> BuildRecord:
    return build_stage(docker, final, source, show=lambda _: None)


@pytest.fixture(scope="module")
def sbom(docker: DockerClient, final: Stage, built: BuildRecord, reports: Path) -> Path:
    report, document, dive = scan_image(docker, final, built.image, ROOT)
    write_outputs(report, document, dive, reports, "Dockerfile")
    return reports / "sbom.cdx.json"


@pytest.fixture(scope="module")
def pushed(
    docker: DockerClient, registry: str, final: Stage, source: SourceVersion
) -> Iterator[PushRecord]:
    record = push_stage(docker, final, source, show=lambda _: None, registry=registry)
    yield record
    delete_image(record.repository.removeprefix(f"{registry}/"), record.digest)


@pytest.fixture(scope="module")
def verified(pushed: PushRecord, sbom: Path, tmp_path_factory: pytest.TempPathFactory) -> Verified:
    folder = tmp_path_factory.mktemp("cosign")
    keys = Keys(str(folder / "cosign.key"), folder / "cosign.pub", development=True)
    ensure_dev_keys(keys)
    sign(pushed.reference, keys, sbom)
    return verify(f"{pushed.repository}:{pushed.tags[0]}", keys.public)


def test_the_final_image_passes_every_check_it_declares(
    docker: DockerClient, final: Stage, built: BuildRecord, reports: Path, sbom: Path
) -> None:
    assert (built.user, built.healthcheck) == ("10001:10001", True)
    scanned = json.loads((reports / "scan.json").read_text())
    contradicted = [v for v in scanned["verdicts"] if not v["ok"]]
    assert contradicted == []
    # Every Debian package and every Python package of the image, with its version.
    purls = [c["purl"] for c in json.loads(sbom.read_text())["components"]]
    assert any(p.startswith("pkg:deb/debian/libpython3.13-stdlib@") for p in purls)
    assert any(p.startswith("pkg:pypi/gunicorn@") for p in purls)


def test_one_index_for_both_platforms_and_the_foreign_one_runs(
    docker: DockerClient, pushed: PushRecord
) -> None:
    assert set(pushed.platforms) == {"linux/amd64", "linux/arm64"}
    assert "latest" not in pushed.tags
    foreign = "arm64" if HOST_ARCH == "amd64" else "amd64"
    # Under QEMU: the interpreter, the compiled libpq and the app import for that CPU.
    imports = "import platform, driftwood.wsgi, psycopg; assert psycopg.pq.__impl__ == 'binary'"
    machine = docker.run(
        pushed.reference,
        ["python", "-c", f"{imports}; print(platform.machine())"],
        envs=APP_ENV,
        platform=f"linux/{foreign}",
        remove=True,
    )
    assert str(machine).strip() == {"amd64": "x86_64", "arm64": "aarch64"}[foreign]


def test_the_verified_digest_is_what_the_production_stack_runs(
    docker: DockerClient,
    final: Stage,
    pushed: PushRecord,
    verified: Verified,
    sbom: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert verified.reference == pushed.reference
    # The attestation carries the scan's SBOM, whole.
    assert verified.sbom == json.loads(sbom.read_text())
    # runstage names the verified image through DRIFTWOOD_TAG in the environment: restored
    # after this test, so later stacks build their own tag again.
    monkeypatch.setenv("DRIFTWOOD_TAG", "unused")
    production = Stack(
        ROOT,
        prod=True,
        project=f"driftwood-test-release-{uuid.uuid4().hex[:6]}",
        overrides=(
            ("DRIFTWOOD_HTTP_PORT", str(free_port())),
            ("DRIFTWOOD_HTTPS_PORT", str(free_port())),
        ),
    )
    try:
        address = runstage.start(docker, final, ROOT, verified.reference, production)
        assert "Driftwood" in get_text(address + "login")
        app = production.client().compose.ps(["app"])[0]
        assert app.image == docker.image.inspect(pushed.reference).id
    finally:
        down(production, volumes=True)
