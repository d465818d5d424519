"""A scan report for people: a terminal table and a Markdown summary."""

from __future__ import annotations

from rich.table import Table

from ops.scan.model import ScanReport

MARK = {"pass": "pass", "fail": "FAIL", "unavailable": "n/a"}


def table(report: ScanReport) -> Table:
    verdicts = {v.check: v for v in report.verdicts}
    out = Table(title=f"Scan of stage {report.stage}: {report.image}")
    for column in ("check", "result", "expected", "verdict", "summary"):
        out.add_column(column)
    for res in report.results:
        verdict = verdicts[res.check]
        style = "green" if verdict.ok else "bold red"
        out.add_row(
            res.check,
            MARK[res.status],
            verdict.expected or "-",
            "ok" if verdict.ok else "MISMATCH",
            res.summary,
            style=style,
        )
    return out


def markdown(report: ScanReport, findings_per_check: int = 10) -> str:
    verdicts = {v.check: v for v in report.verdicts}
    counts = report.severity_counts()
    lines = [
        f"# Scan of stage `{report.stage}`",
        "",
        f"Image: `{report.image}`. Overall: **{'as declared' if report.ok else 'MISMATCH'}**. "
        "Findings by severity: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".",
        "",
        "| Check | Result | Expected | Verdict | Summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for res in report.results:
        verdict = verdicts[res.check]
        lines.append(
            f"| {res.title} (`{res.check}`) | {MARK[res.status]} | {verdict.expected or '-'} "
            f"| {'ok' if verdict.ok else '**' + verdict.reason + '**'} | {res.summary} |"
        )
    for res in report.results:
        if res.status != "fail":
            continue
        lines += ["", f"## {res.title}", ""]
        for finding in res.findings[:findings_per_check]:
            where = f" ({finding.location}:{finding.line})" if finding.line else ""
            lines.append(f"- {finding.severity}: {finding.message}{where}")
        if len(res.findings) > findings_per_check:
            lines.append(f"- ... and {len(res.findings) - findings_per_check} more (see scan.json)")
    return "\n".join(lines) + "\n"
