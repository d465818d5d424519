"""SARIF 2.1.0 output, the format code-scanning dashboards (GitHub's among them) read.

Each check is a rule; a tool's own rule (hadolint's DL3008) becomes `check/DL3008`. Findings
about the image itself (a path inside it, its ENV) are anchored to the stage's Dockerfile,
because dashboards need a file in the repository to show a result on.
"""

from __future__ import annotations

from typing import Any

from ops.scan.model import CheckResult, Finding, ScanReport

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub sorts security results by this property (a CVSS-like 0-10 score).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}


def _rule_id(res: CheckResult, finding: Finding) -> str:
    return f"{res.check}/{finding.rule}" if finding.rule else res.check


def _result(res: CheckResult, finding: Finding, dockerfile_uri: str) -> dict[str, Any]:
    uri = finding.location if finding.location == dockerfile_uri else dockerfile_uri
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": uri},
            "region": {"startLine": finding.line or 1},
        }
    }
    if finding.location and finding.location != dockerfile_uri:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.location}]
    return {
        "ruleId": _rule_id(res, finding),
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [location],
        "properties": {"severity": finding.severity, "tool": res.tool},
    }


def to_sarif(report: ScanReport, dockerfile_uri: str) -> dict[str, Any]:
    """`dockerfile_uri` is the Dockerfile's path relative to the repository root."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for res in report.results:
        for finding in res.findings:
            rule_id = _rule_id(res, finding)
            rules.setdefault(
                rule_id,
                {
                    "id": rule_id,
                    "name": rule_id.replace(".", "_").replace("/", "_"),
                    "shortDescription": {"text": res.title},
                    "properties": {"security-severity": SECURITY_SEVERITY[finding.severity]},
                },
            )
            results.append(_result(res, finding, dockerfile_uri))
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "driftwood-scan",
                        "rules": list(rules.values()),
                    }
                },
                "automationDetails": {"id": f"driftwood-scan/{report.stage}/"},
                "results": results,
            }
        ],
    }
