"""A CycloneDX 1.6 SBOM from an image's filesystem: every Debian and Python package.

Debian packages come from dpkg's own records: /var/lib/dpkg/status on a normal Debian
image, one file per package under /var/lib/dpkg/status.d/ on distroless-style images.
Their licences come from the machine-readable /usr/share/doc/<package>/copyright files.
Python distributions come from every `*.dist-info/METADATA` (venvs, site-packages, dist-packages).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.parser import HeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ops.scan.model import CheckResult, Finding, result

SPEC_VERSION = "1.6"
DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d"
# Only these files are needed from an image to build its SBOM; the engine side extracts
# just these (see ops.scan.image), not the whole filesystem.
SBOM_PATTERNS = (
    re.compile(r"var/lib/dpkg/status(\.d/[^/]+)?"),
    re.compile(r"usr/share/doc/[^/]+/copyright"),
    re.compile(r".*\.dist-info/METADATA"),
)


def deb822(text: str) -> Iterator[dict[str, str]]:
    """Paragraphs of a Debian control-style file as dicts (continuation lines joined)."""
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in {" ", "\t"} and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def debian_licences(root: Path, package: str) -> list[str]:
    """Licence short names from a DEP-5 copyright file, in order of appearance."""
    path = root / "usr/share/doc" / package / "copyright"
    try:
        text = path.read_text(errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return []
    names: list[str] = []
    for paragraph in deb822(text):
        name = paragraph.get("License", "").split("\n")[0].strip()
        if name and name not in names:
            names.append(name)
    return names


def debian_packages(root: Path) -> list[dict[str, str]]:
    """Installed packages from dpkg's status file and/or status.d directory."""
    texts = []
    status = root / DPKG_STATUS
    if status.is_file():
        texts.append(status.read_text(errors="replace"))
    status_d = root / DPKG_STATUS_D
    if status_d.is_dir():
        # distroless writes <pkg> and sometimes <pkg>.md5sums beside it. Package names
        # themselves may hold dots (python3.13-minimal, libbz2-1.0).
        texts.extend(
            p.read_text(errors="replace")
            for p in sorted(status_d.iterdir())
            if p.is_file() and not p.name.endswith(".md5sums")
        )
    packages = []
    for text in texts:
        for paragraph in deb822(text):
            # status.d entries carry no Status field; in status, skip removed packages.
            if "Package" not in paragraph or "Version" not in paragraph:
                continue
            if paragraph.get("Status", "install ok installed").endswith(" installed"):
                packages.append(paragraph)
    return packages


def python_distributions(root: Path) -> list[dict[str, Any]]:
    parser = HeaderParser()
    found = []
    for metadata in sorted(root.rglob("*.dist-info/METADATA")):
        headers = parser.parsestr(metadata.read_text(errors="replace"))
        if headers["Name"] and headers["Version"]:
            found.append(
                {
                    "name": headers["Name"],
                    "version": headers["Version"],
                    "licences": _python_licences(headers),
                    "path": "/" + str(metadata.parent.relative_to(root)),
                }
            )
    return found


def _python_licences(headers: Any) -> list[dict[str, Any]]:
    if headers["License-Expression"]:
        return [{"expression": headers["License-Expression"]}]
    classifiers = [
        c.split(" :: ")[-1]
        for c in headers.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    if classifiers:
        return [{"license": {"name": name}} for name in classifiers]
    text = (headers["License"] or "").strip()
    # Some projects paste their whole licence text here; only a short name is useful.
    if text and "\n" not in text and len(text) <= 80:
        return [{"license": {"name": text}}]
    return []


def _purl_version(version: str) -> str:
    return quote(version, safe=".-_~")


def build_sbom(root: Path, image: str, digest: str | None = None) -> dict[str, Any]:
    """The CycloneDX document for the filesystem under `root`."""
    components: list[dict[str, Any]] = []
    for pkg in debian_packages(root):
        name, version = pkg["Package"], pkg["Version"]
        arch = pkg.get("Architecture", "all")
        purl = f"pkg:deb/debian/{name}@{_purl_version(version)}?arch={arch}"
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": purl,
            "name": name,
            "version": version,
            "purl": purl,
        }
        licences = debian_licences(root, pkg.get("Source", name).split()[0])
        licences = licences or debian_licences(root, name)
        if licences:
            component["licenses"] = [{"license": {"name": n}} for n in licences]
        components.append(component)
    for dist in python_distributions(root):
        normalized = re.sub(r"[-_.]+", "-", dist["name"]).lower()
        purl = f"pkg:pypi/{normalized}@{_purl_version(dist['version'])}"
        component = {
            "type": "library",
            "bom-ref": f"{purl}#{dist['path']}",  # the same dist can sit in two venvs
            "name": dist["name"],
            "version": dist["version"],
            "purl": purl,
            "properties": [{"name": "driftwood:path", "value": dist["path"]}],
        }
        if dist["licences"]:
            component["licenses"] = dist["licences"]
        components.append(component)
    subject: dict[str, Any] = {"type": "container", "bom-ref": image, "name": image}
    if digest:
        subject["version"] = digest
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "driftwood ops.scan"}]},
            "component": subject,
        },
        "components": components,
    }


def wanted(path: str) -> bool:
    """Whether a file inside an image is needed to build its SBOM."""
    return any(p.fullmatch(path) for p in SBOM_PATTERNS)


def sbom_check(sbom: dict[str, Any]) -> CheckResult:
    """An SBOM that misses a whole ecosystem misleads every scanner that reads it."""
    purls = [c.get("purl", "") for c in sbom["components"]]
    debs = sum(p.startswith("pkg:deb/") for p in purls)
    pythons = sum(p.startswith("pkg:pypi/") for p in purls)
    findings = []
    if not debs:
        findings.append(
            Finding(
                "no Debian packages found: keep dpkg's status (or status.d) "
                "in the image so scanners can see its packages",
                "medium",
            )
        )
    if not pythons:
        findings.append(Finding("no Python distributions found (*.dist-info/METADATA)", "medium"))
    unlicensed = sum("licenses" not in c for c in sbom["components"])
    return result(
        "sbom",
        findings,
        f"{debs} Debian + {pythons} Python packages, {unlicensed} without a licence",
    )
