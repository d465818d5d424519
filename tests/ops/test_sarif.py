"""SARIF 2.1.0 shape: what GitHub code scanning requires of an upload."""

import json

from ops.scan.model import CheckResult, Finding, ScanReport, compare
from ops.scan.render import markdown
from ops.scan.sarif import to_sarif


def sample_report() -> ScanReport:
    results = [
        CheckResult(
            "hadolint",
            "fail",
            "1 errors or warnings",
            (Finding("Pin versions", "medium", "Dockerfile", 7, "DL3008"),),
            "hadolint",
        ),
        CheckResult(
            "policy.no_setuid",
            "fail",
            "1 finding",
            (Finding("/usr/bin/su is setuid/setgid", "medium", "/usr/bin/su"),),
        ),
        CheckResult("policy.non_root", "pass", "runs as 10001:10001"),
    ]
    return ScanReport("final", "driftwood:stage-12", results, compare({}, results))


def test_sarif_shape() -> None:
    sarif = json.loads(json.dumps(to_sarif(sample_report(), "Dockerfile")))
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    assert run["tool"]["driver"]["name"] == "driftwood-scan"
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["hadolint/DL3008", "policy.no_setuid"]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"]
        float(rule["properties"]["security-severity"])
    assert len(run["results"]) == 2
    for item in run["results"]:
        assert item["ruleId"] in rule_ids
        assert item["level"] in {"error", "warning", "note", "none"}
        assert item["message"]["text"]
        physical = item["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "Dockerfile"
        assert physical["region"]["startLine"] >= 1
    lint, setuid = run["results"]
    assert lint["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    # A path inside the image is anchored on the Dockerfile and named logically.
    assert setuid["locations"][0]["logicalLocations"] == [{"fullyQualifiedName": "/usr/bin/su"}]


def test_markdown_summary_lists_checks_and_failures() -> None:
    text = markdown(sample_report())
    assert "| Check | Result | Expected | Verdict | Summary |" in text
    assert "## Dockerfile lint (hadolint)" in text
    assert "- medium: Pin versions (Dockerfile:7)" in text
    assert "runs as 10001:10001" in text
