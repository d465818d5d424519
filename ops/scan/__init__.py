"""Scan a stage's image with every check, then compare the outcome with its manifest.

`scan_image` runs hadolint, container-structure-test, the policy checks, detect-secrets
over every layer, dive, the SBOM and a vulnerability scanner where one is installed;
`write_outputs` saves JSON, SARIF, Markdown and the CycloneDX SBOM.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from detect_secrets.__version__ import VERSION as DETECT_SECRETS_VERSION
from python_on_whales import DockerClient

from ops.scan import policy, tools
from ops.scan.image import ImageMaterial, extract_layer, gather
from ops.scan.model import CheckResult, ScanReport, compare, result
from ops.scan.render import markdown
from ops.scan.sarif import to_sarif
from ops.scan.sbom import build_sbom, sbom_check
from ops.stages import CHECKS, Stage


class GateError(Exception):
    """A scan contradicts its stage's declared expectations: the image goes no further."""


# Per-layer detect-secrets reports, keyed by its version and the layer digest.
SECRETS_CACHE = Path(".cache/scan/secrets") / DETECT_SECRETS_VERSION


def _relative(path: Path | None, root: Path) -> str:
    if path is None:
        return "-"
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _layer_secrets(material: ImageMaterial, workdir: Path, cache: Path) -> CheckResult:
    """detect-secrets over every layer on its own: a secret a later layer deletes still
    ships in the layer that added it. Reports are cached by layer digest, so the base
    layers that images share are scanned once, not in every scan."""
    if not tools.find_tool("detect-secrets"):
        return tools.unavailable("secrets.layers", "detect-secrets", "pip install detect-secrets")
    findings = []
    for layer in material.layers:
        cached = cache / f"{layer.digest.replace(':', '-')}.json"
        if cached.exists():
            report = json.loads(cached.read_text())
        else:
            directory = extract_layer(material.archive, layer, workdir / "layers" / layer.digest)
            try:
                report = tools.detect_secrets(directory)
            except RuntimeError as exc:
                return CheckResult("secrets.layers", "fail", str(exc), (), "detect-secrets")
            shutil.rmtree(directory)
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(report))
        findings += tools.parse_detect_secrets(report, layer.label)
    clean = f"{len(material.layers)} layers clean"
    return result("secrets.layers", findings, clean, "detect-secrets")


def scan_image(
    docker: DockerClient,
    stage: Stage,
    image: str,
    project_root: Path,
    require_vuln_scan: bool = False,
) -> tuple[ScanReport, dict[str, Any], dict[str, float]]:
    """Run every check on `image` (built from `stage`): the report, the SBOM, dive's figures."""
    dockerfile_name = _relative(stage.dockerfile, project_root)
    results: list[CheckResult] = [
        tools.run_hadolint(stage.dockerfile, dockerfile_name),
        tools.run_structure(
            image, stage.structure_test, _relative(stage.structure_test, project_root)
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="driftwood-scan-") as tmp:
        material = gather(docker, image, Path(tmp))
        results += policy.check_all(
            material.inspect,
            material.history,
            material.files,
            stage.dockerfile.read_text(),
            stage.size_budget_mb,
            dockerfile_name,
            stage.target,
        )
        results.append(_layer_secrets(material, Path(tmp), project_root / SECRETS_CACHE))
        efficiency, dive_figures = tools.run_dive(material.archive, Path(tmp))
        results.append(efficiency)
        digest = (material.inspect.repo_digests or [None])[0]
        sbom = build_sbom(material.root, image, digest.split("@")[-1] if digest else None)
        results.append(sbom_check(sbom))
        results.append(tools.run_vulns(material.archive))
    results.sort(key=lambda r: list(CHECKS).index(r.check))
    report = ScanReport(
        stage.name, image, results, compare(stage.expect, results, require_vuln_scan)
    )
    return report, sbom, dive_figures


def gate(report: ScanReport, step: str) -> None:
    """The scan as a gate: raise GateError, naming each contradicted check, unless every
    check came out as the stage declares it; `step` is what the image is refused."""
    wrong = [f"{v.check} ({v.reason})" for v in report.verdicts if not v.ok]
    if wrong:
        raise GateError(f"scan gate: {report.image} not {step}: {'; '.join(wrong)}")


def write_outputs(
    report: ScanReport,
    sbom: dict[str, Any],
    dive_figures: dict[str, float],
    directory: Path,
    dockerfile_uri: str,
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    data = {**report.to_dict(), "dive": dive_figures, "sbom_components": len(sbom["components"])}
    outputs = {
        "scan.json": json.dumps(data, indent=2),
        "scan.sarif": json.dumps(to_sarif(report, dockerfile_uri), indent=2),
        "scan.md": markdown(report),
        "sbom.cdx.json": json.dumps(sbom, indent=2),
    }
    paths = []
    for name, text in outputs.items():
        path = directory / name
        path.write_text(text + ("" if text.endswith("\n") else "\n"))
        paths.append(path)
    return paths
