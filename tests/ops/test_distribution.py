"""Chapter 09's pure pieces: reading an index, an attested SBOM, a lock file, and the scan
gate's verdict (no engine, no registry)."""

import base64
import json

import pytest

from ops.lessons.ch09 import locked_packages, sbom_python_packages
from ops.push import index_platforms
from ops.scan import GateError, gate
from ops.scan.model import CheckResult, ScanReport, compare
from ops.sign import attested_sbom

INDEX = {
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": "sha256:c", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        # BuildKit's provenance attestation: not a platform.
        {"digest": "sha256:d", "platform": {"os": "unknown", "architecture": "unknown"}},
    ],
}


def test_index_platforms_skip_attestations() -> None:
    assert index_platforms(INDEX, "sha256:i") == {
        "linux/amd64": "sha256:a",
        "linux/arm64": "sha256:b",
        "linux/arm/v7": "sha256:c",
    }


def test_a_single_manifest_is_its_own_entry() -> None:
    assert index_platforms({"layers": []}, "sha256:m") == {"?/?": "sha256:m"}


def envelope(predicate: dict) -> str:
    statement = {"_type": "https://in-toto.io/Statement/v0.1", "predicate": predicate}
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": payload})


def test_attested_sbom_is_read_from_the_first_envelope() -> None:
    sbom = {"bomFormat": "CycloneDX", "components": [{"name": "x"}]}
    output = "Verification for ... --\n" + envelope(sbom) + "\n"
    assert attested_sbom(output) == sbom
    assert attested_sbom("no envelope here\n{}\n") is None


def test_locked_packages_leave_out_conditional_pins() -> None:
    lock = (
        "# a comment\n"
        "Flask==3.1.3 \\\n    --hash=sha256:0\n"
        "psycopg_binary==3.2.9 ; implementation_name != 'pypy' \\\n    --hash=sha256:1\n"
        "colorama==0.4.6 ; sys_platform == 'win32' \\\n"
        "zope.interface==7.2\n"
    )
    assert locked_packages(lock) == {"flask": "3.1.3", "zope-interface": "7.2"}


def test_sbom_python_packages_come_from_pypi_purls() -> None:
    sbom = {
        "components": [
            {"purl": "pkg:pypi/flask@3.1.3"},
            {"purl": "pkg:deb/debian/python3.13@3.13.5-2?arch=amd64"},
            {"name": "no purl"},
        ]
    }
    assert sbom_python_packages(sbom) == {"flask": "3.1.3"}


def report(expect: dict) -> ScanReport:
    results = [
        CheckResult("policy.non_root", "fail", "runs as root"),
        CheckResult("sbom", "pass", "412 components"),
    ]
    return ScanReport("09-registries", "img", results, compare(expect, results))


def test_the_gate_passes_what_the_stage_declares() -> None:
    gate(report({"policy.non_root": "fail", "sbom": "pass"}), "pushed")


def test_the_gate_names_each_contradicted_check() -> None:
    with pytest.raises(GateError, match=r"img not pushed: policy.non_root \(fails a check"):
        gate(report({"policy.non_root": "pass", "sbom": "pass"}), "pushed")
