"""What a scan produces: findings grouped into checks, and how they compare with a stage.

A check passes or fails; "unavailable" means the tool is missing, which is reported, never
counted as a pass. The exit code of a scan comes from `compare()`: a stage fails CI only
when a check it declares does the opposite of what it declares (so lessons stay true).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from ops.stages import CHECKS, Outcome

Status = Literal["pass", "fail", "unavailable"]
Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True)
class Finding:
    message: str
    severity: Severity = "medium"
    # Where it is: a Dockerfile line, a path inside the image, a package.
    location: str | None = None
    line: int | None = None
    rule: str | None = None  # the tool's own rule id, e.g. hadolint's DL3008


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    summary: str
    findings: tuple[Finding, ...] = ()
    tool: str = "driftwood"

    @property
    def title(self) -> str:
        return CHECKS[self.check]


def result(check: str, findings: list[Finding], ok: str, tool: str = "driftwood") -> CheckResult:
    """A check that passes when it has no findings; the summary counts them otherwise."""
    if not findings:
        return CheckResult(check, "pass", ok, (), tool)
    noun = "finding" if len(findings) == 1 else "findings"
    return CheckResult(check, "fail", f"{len(findings)} {noun}", tuple(findings), tool)


@dataclass(frozen=True)
class Verdict:
    check: str
    expected: Outcome | None
    actual: Status
    ok: bool
    reason: str


@dataclass
class ScanReport:
    stage: str
    image: str
    results: list[CheckResult]
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    def severity_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for res in self.results:
            for finding in res.findings:
                counts[finding.severity] += 1
        return counts

    def to_dict(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "image": self.image,
            "ok": self.ok,
            "severity_counts": self.severity_counts(),
            "results": [asdict(r) for r in self.results],
            "verdicts": [asdict(v) for v in self.verdicts],
        }


def compare(
    expect: dict[str, Outcome], results: list[CheckResult], require_vuln_scan: bool = False
) -> list[Verdict]:
    """Compare each check's outcome with the stage's declaration.

    Undeclared checks are informational. A declared check that could not run is a failure
    (install the tool), except the vulnerability scan, which no offline machine can always
    run: it fails only with `require_vuln_scan`, and is always reported.
    """
    verdicts = []
    for res in results:
        expected = expect.get(res.check)
        if res.status == "unavailable":
            required = require_vuln_scan if res.check == "vulns" else expected is not None
            reason = f"not checked: {res.summary}"
            verdicts.append(Verdict(res.check, expected, res.status, not required, reason))
        elif expected is None:
            verdicts.append(Verdict(res.check, None, res.status, True, "not declared"))
        elif expected == res.status:
            verdicts.append(Verdict(res.check, expected, res.status, True, "as declared"))
        else:
            reason = (
                "fails a check the stage declares it passes"
                if expected == "pass"
                else "passes a check the stage declares it fails: update the lesson or stage.toml"
            )
            verdicts.append(Verdict(res.check, expected, res.status, False, reason))
    missing = set(expect) - {r.check for r in results}
    verdicts.extend(
        Verdict(check, expect[check], "unavailable", False, "declared but not run")
        for check in sorted(missing)
    )
    return verdicts
