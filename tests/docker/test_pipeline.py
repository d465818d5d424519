"""The image pipeline against the real engine and the local registry: build, scan (a bad
image fails exactly the checks it should, a good one passes), push multi-arch, sign,
verify, tamper and be refused, run the verified digest, compare two stages."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from ops import compare, runstage
from ops.build import BuildFailed, build_stage, local_tag
from ops.push import push_stage, resolve_digest
from ops.registry import delete_image
from ops.scan import scan_image, write_outputs
from ops.sign import Keys, SigningError, ensure_dev_keys, sign, verify
from ops.stages import Stage, load_stage
from ops.version import SourceVersion

pytestmark = pytest.mark.docker

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA = PROJECT_ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def good() -> Stage:
    return load_stage(DATA / "good-image" / "stage.toml")


@pytest.fixture(scope="module")
def bad() -> Stage:
    return load_stage(DATA / "bad-image" / "stage.toml")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def built(docker: DockerClient, good: Stage, bad: Stage, source: SourceVersion, reports: Path):
    """Both test images, built once for this module (host platform, loaded locally)."""
    records = {}
    for stage in (good, bad):
        shown: list[str] = []
        records[stage.name] = build_stage(docker, stage, source, show=shown.append)
        records[stage.name].save(reports)
        records[stage.name + ".shown"] = shown
    return records


def test_build_records_what_came_out(built, reports: Path) -> None:
    record = built["good"]
    assert record.image == "driftwood-test-good:stage-91"
    assert record.image_id.startswith("sha256:")
    assert record.size_bytes > 1_000_000
    assert record.seconds > 0
    assert (record.user, record.healthcheck) == ("10001:10001", True)
    assert record.steps >= 3
    # One line per step, never the steps' own output.
    assert any("COPY --chmod=0644 app.py /app/app.py" in line for line in built["good.shown"])
    saved = json.loads((reports / "good" / "build.json").read_text())
    assert saved["digest"] == record.digest


def test_a_failing_build_names_the_step_and_keeps_the_full_log(
    docker: DockerClient, good: Stage, source: SourceVersion, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        "ARG PYTHON_IMAGE\nFROM ${PYTHON_IMAGE}\nRUN echo about to fail && false\n"
    )
    broken = Stage(
        **{
            **good.__dict__,
            "dockerfile": tmp_path / "Dockerfile",
            "context": tmp_path,
            "name": "broken",
        }
    )
    with pytest.raises(BuildFailed) as caught:
        build_stage(docker, broken, source, show=lambda _: None)
    assert "RUN echo about to fail && false" in str(caught.value)
    assert "about to fail" in caught.value.log  # the step's own output, for the learner


def test_the_bad_image_fails_exactly_the_checks_it_declares(docker, built, bad: Stage) -> None:
    report, sbom, dive = scan_image(docker, bad, built["bad"].image, PROJECT_ROOT)
    status = {r.check: r for r in report.results}
    assert report.ok, [v for v in report.verdicts if not v.ok]
    assert {c for c, r in status.items() if r.status == "fail"} == {
        c for c, outcome in bad.expect.items() if outcome == "fail"
    }
    located = {f.location for r in report.results for f in r.findings}
    assert "/opt/credentials" in located  # deleted by a later layer, still shipped
    assert "/opt/suid-demo" in located
    assert "/opt" in located  # world-writable
    history = status["policy.no_secret_history"].findings
    assert any("DB_PASSWORD" in f.message for f in history)
    assert dive["wasted_bytes"] >= 20_000_000
    assert sbom["components"]


@pytest.fixture(scope="module")
def scanned(docker, built, good: Stage, reports: Path):
    """The good image scanned, its outputs written to `reports` (compare reads them too, so
    a test run on its own, as CI's rerun of failed tests does, still finds them)."""
    report, sbom, dive = scan_image(docker, good, built["good"].image, PROJECT_ROOT)
    paths = write_outputs(report, sbom, dive, reports / "good", "tests/data/good-image/Dockerfile")
    return report, sbom, paths


def test_the_good_image_passes_and_writes_every_output(scanned, reports: Path) -> None:
    report, sbom, paths = scanned
    failing = {r.check: r.summary for r in report.results if r.status != "pass"}
    assert set(failing) <= {"vulns"}, failing  # no trivy/grype offline: reported, not passed
    assert report.ok
    assert [p.name for p in paths] == ["scan.json", "scan.sarif", "scan.md", "sbom.cdx.json"]
    purls = [c["purl"] for c in sbom["components"]]
    assert any(p.startswith("pkg:deb/debian/python3.13-minimal@") for p in purls)
    assert any(p.startswith("pkg:pypi/pip@") for p in purls)
    assert json.loads((reports / "good" / "scan.sarif").read_text())["version"] == "2.1.0"


def test_the_scan_fails_when_the_vulnerability_scan_is_required(docker, built, good) -> None:
    report, _, _ = scan_image(docker, good, built["good"].image, PROJECT_ROOT, True)
    vulns = next(r for r in report.results if r.check == "vulns")
    if vulns.status != "unavailable":
        pytest.skip(f"a vulnerability scanner ran here ({vulns.tool})")
    assert not report.ok


@pytest.fixture(scope="module")
def pushed(docker, registry: str, good: Stage, source: SourceVersion, reports: Path):
    record = push_stage(docker, good, source, show=lambda _: None, registry=registry)
    record.save(reports)
    yield record
    # Every tag points at the one digest: deleting it removes them all from the registry.
    delete_image(record.repository.removeprefix(f"{registry}/"), record.digest)


def test_push_is_one_multi_arch_index_with_every_tag_on_its_digest(pushed, registry) -> None:
    assert set(pushed.platforms) == {"linux/amd64", "linux/arm64"}
    assert all(size > 1_000_000 for size in pushed.platforms.values())
    assert "latest" not in pushed.tags
    for tag in pushed.tags:
        assert resolve_digest(f"{pushed.repository}:{tag}") == pushed.digest
    request = urllib.request.Request(
        f"http://{registry}/v2/driftwood-test-good/manifests/{pushed.digest}",
        headers={"Accept": "application/vnd.oci.image.index.v1+json"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 (http to our registry)
        assert response.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("cosign")
    pair = Keys(str(folder / "cosign.key"), folder / "cosign.pub", development=True)
    ensure_dev_keys(pair)
    return pair


def test_sign_verify_run_then_tamper_and_be_refused(
    docker: DockerClient, pushed, keys: Keys, built, good: Stage, registry: str, tmp_path: Path
) -> None:
    sbom = tmp_path / "sbom.json"
    sbom.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "version": 1,
                "components": [{"type": "library", "name": "x"}],
            }
        )
    )
    sign(pushed.reference, keys, sbom)
    tag = f"{pushed.repository}:{good.tag}"
    verified = verify(tag, keys.public)
    assert verified.reference == pushed.reference
    assert verified.sbom_components == 1

    # What --verify runs is the verified digest, not whatever the tag says later.
    url = runstage.start(docker, good, PROJECT_ROOT, verified.reference)
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            assert response.read() == b"ok\n"
    finally:
        runstage.stop(docker, good, PROJECT_ROOT)

    # Someone pushes a different image under the same tag: it is refused.
    docker.image.tag(built["bad"].image, tag)
    docker.image.push(tag, quiet=True)
    with pytest.raises(SigningError, match=r"REFUSED .*no signatures found"):
        verify(tag, keys.public)


def test_compare_two_stages(
    docker, good: Stage, bad: Stage, source, reports: Path, pushed, scanned
) -> None:
    compare.measure(docker, good, source, reports, show=lambda _: None)
    rows = [compare.collect(stage, reports, None) for stage in (bad, good)]
    assert rows[1].cold_s > rows[1].rebuild_s
    assert rows[0].root is True and rows[1].root is False
    assert rows[1].compressed_mb < rows[1].size_mb
    assert docker.image.exists(local_tag(good))  # the rebuild probe did not retag it
    paths = compare.write_report(rows, reports / "compare")
    text = (reports / "compare" / "report.md").read_text()
    assert "| bad |" in text and "| good |" in text
    assert [p.name for p in paths] == ["report.md", "report.json", "sizes.png", "build-times.png"]
