"""The CycloneDX SBOM from a small fake image filesystem."""

from pathlib import Path

from ops.scan.sbom import build_sbom, sbom_check, wanted

STATUS = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.41-12
Description: GNU C Library
 Contains the standard libraries.

Package: removed-thing
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 13.8+deb13u1
"""

DISTROLESS = """\
Package: libssl3t64
Architecture: arm64
Version: 1:3.5.1-1
Source: openssl
"""

DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: glibc

Files: *
Copyright: 1991-2025 Free Software Foundation
License: LGPL-2.1+
 The GNU C Library is free software...

Files: debian/*
License: GPL-2+
"""

# A package name with a dot: its status.d file is not a .md5sums beside another package.
PYTHON_MINIMAL = """\
Package: python3.13-minimal
Version: 3.13.5-2+deb13u5
Architecture: amd64
"""

FLASK = """\
Metadata-Version: 2.4
Name: Flask
Version: 3.1.2
License-Expression: BSD-3-Clause
"""

OLD_STYLE = """\
Metadata-Version: 2.1
Name: typing_extensions
Version: 4.15.0
Classifier: License :: OSI Approved :: Python Software Foundation License
Classifier: Programming Language :: Python
"""


def fake_image(root: Path) -> Path:
    def put(path: str, text: str) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)

    put("var/lib/dpkg/status", STATUS)
    put("var/lib/dpkg/status.d/libssl3t64", DISTROLESS)
    put("var/lib/dpkg/status.d/libssl3t64.md5sums", "abc  usr/lib/libssl.so.3\n")
    put("var/lib/dpkg/status.d/python3.13-minimal", PYTHON_MINIMAL)
    put("usr/share/doc/glibc/copyright", DEP5)
    put("opt/venv/lib/python3.13/site-packages/flask-3.1.2.dist-info/METADATA", FLASK)
    put("usr/lib/python3/dist-packages/typing_extensions-4.15.0.dist-info/METADATA", OLD_STYLE)
    return root


def test_every_debian_and_python_package_with_versions_and_licences(tmp_path: Path) -> None:
    sbom = build_sbom(fake_image(tmp_path), "driftwood:stage-12", "sha256:abc")
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    assert sbom["serialNumber"].startswith("urn:uuid:")
    assert sbom["metadata"]["component"] == {
        "type": "container",
        "bom-ref": "driftwood:stage-12",
        "name": "driftwood:stage-12",
        "version": "sha256:abc",
    }
    by_name = {c["name"]: c for c in sbom["components"]}
    assert set(by_name) == {
        "libc6",
        "base-files",
        "libssl3t64",
        "python3.13-minimal",
        "Flask",
        "typing_extensions",
    }
    libc = by_name["libc6"]
    assert libc["version"] == "2.41-12"
    assert libc["purl"] == "pkg:deb/debian/libc6@2.41-12?arch=amd64"
    # Found through the source package's doc folder.
    assert libc["licenses"] == [{"license": {"name": "LGPL-2.1+"}}, {"license": {"name": "GPL-2+"}}]
    # Epoch and '+' are percent-encoded in purls.
    assert by_name["libssl3t64"]["purl"] == "pkg:deb/debian/libssl3t64@1%3A3.5.1-1?arch=arm64"
    assert by_name["base-files"]["purl"].endswith("13.8%2Bdeb13u1?arch=amd64")
    assert "licenses" not in by_name["base-files"]
    flask = by_name["Flask"]
    assert flask["purl"] == "pkg:pypi/flask@3.1.2"
    assert flask["licenses"] == [{"expression": "BSD-3-Clause"}]
    assert by_name["typing_extensions"]["licenses"] == [
        {"license": {"name": "Python Software Foundation License"}}
    ]
    assert len({c["bom-ref"] for c in sbom["components"]}) == len(sbom["components"])


def test_check_passes_with_both_ecosystems(tmp_path: Path) -> None:
    check = sbom_check(build_sbom(fake_image(tmp_path), "x"))
    assert check.status == "pass"
    assert check.summary.startswith("4 Debian + 2 Python packages")


def test_check_fails_when_dpkg_records_are_gone(tmp_path: Path) -> None:
    root = fake_image(tmp_path)
    (root / "var/lib/dpkg/status").unlink()
    for path in (root / "var/lib/dpkg/status.d").iterdir():
        path.unlink()
    check = sbom_check(build_sbom(root, "x"))
    assert check.status == "fail"
    assert "no Debian packages" in check.findings[0].message


def test_only_the_files_the_sbom_needs_are_extracted() -> None:
    assert wanted("var/lib/dpkg/status")
    assert wanted("var/lib/dpkg/status.d/libc6")
    assert wanted("usr/share/doc/libc6/copyright")
    assert wanted("opt/venv/lib/python3.13/site-packages/flask-3.1.2.dist-info/METADATA")
    assert not wanted("usr/share/doc/libc6/changelog.gz")
    assert not wanted("usr/bin/python3.13")
