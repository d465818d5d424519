"""Expectation comparison: CI fails only when a check does the opposite of what is declared."""

from ops.scan.model import CheckResult, Finding, ScanReport, compare, result


def res(check: str, status: str) -> CheckResult:
    return CheckResult(check, status, "summary")  # type: ignore[arg-type]


def verdict(expect: dict, outcome: CheckResult, require_vuln_scan: bool = False):
    (only,) = compare(expect, [outcome], require_vuln_scan)
    return only


def test_as_declared_either_way() -> None:
    assert verdict({"hadolint": "pass"}, res("hadolint", "pass")).ok
    assert verdict({"hadolint": "fail"}, res("hadolint", "fail")).ok


def test_failing_a_check_declared_to_pass() -> None:
    v = verdict({"hadolint": "pass"}, res("hadolint", "fail"))
    assert not v.ok
    assert "declares it passes" in v.reason


def test_passing_a_check_declared_to_fail_keeps_lessons_true() -> None:
    v = verdict({"policy.non_root": "fail"}, res("policy.non_root", "pass"))
    assert not v.ok
    assert "declares it fails" in v.reason


def test_undeclared_checks_are_informational() -> None:
    assert verdict({}, res("efficiency", "fail")).ok


def test_a_declared_check_whose_tool_is_missing_fails() -> None:
    assert not verdict({"hadolint": "pass"}, res("hadolint", "unavailable")).ok


def test_missing_vulnerability_scanner_is_reported_and_fails_only_when_required() -> None:
    missing = res("vulns", "unavailable")
    relaxed = verdict({"vulns": "pass"}, missing)
    assert relaxed.ok
    assert relaxed.reason.startswith("not checked")
    assert not verdict({"vulns": "pass"}, missing, require_vuln_scan=True).ok
    assert not verdict({}, missing, require_vuln_scan=True).ok


def test_declared_but_never_run() -> None:
    (v,) = compare({"sbom": "pass"}, [])
    assert not v.ok


def test_result_and_report_counts() -> None:
    failing = result("policy.no_setuid", [Finding("x", "high"), Finding("y", "low")], "ok")
    assert failing.status == "fail"
    assert failing.summary == "2 findings"
    assert result("policy.no_setuid", [], "none").status == "pass"
    report = ScanReport("s", "i", [failing], compare({"policy.no_setuid": "fail"}, [failing]))
    assert report.ok
    assert report.severity_counts()["high"] == 1
    assert report.to_dict()["ok"] is True
