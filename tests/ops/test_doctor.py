"""The doctor's rows from probed facts: what is required, what is optional, the fixes."""

from dataclasses import replace

from ops.bootstrap import HostFacts
from ops.doctor import absent_optional, checks, missing_required
from ops.engine import EngineFacts

ENGINE = EngineFacts(
    server_version="26.1.5",
    api_version="1.45",
    containerd_store=True,
    buildx_version="0.13.1",
    compose_version="2.26.1",
    platforms=("linux/amd64", "linux/arm64"),
)
READY = HostFacts(registry_answering=True, engine=ENGINE)
TOOLS = {
    "cosign": "2.5.0",
    "hadolint": "2.15.1",
    "container-structure-test": "1.19.1",
    "dive": "0.13.1",
    "trivy": None,
    "grype": None,
    "mmdebstrap": "1.3.5",
    "podman": "4.3.1",
}
BASES = {"debian:trixie-slim": True}


def names(rows) -> list[str]:
    return [row.name for row in rows]


def test_ready_host_has_nothing_required_missing_and_names_the_absent_scanner() -> None:
    rows = checks(READY, TOOLS, BASES)
    assert missing_required(rows) == []
    assert names(absent_optional(rows)) == ["vulnerability scanner (trivy or grype)"]


def test_a_found_scanner_is_named() -> None:
    rows = checks(READY, {**TOOLS, "grype": "0.80.0"}, BASES)
    assert "vulnerability scanner (grype)" in names(rows)
    assert absent_optional(rows) == []


def test_no_engine_marks_engine_rows_missing_with_setup_as_the_fix() -> None:
    rows = checks(HostFacts(), TOOLS, {"debian:trixie-slim": False})
    missing = {row.name: row.fix for row in missing_required(rows)}
    assert missing["Docker Engine >= 26"] == "invoke setup"
    assert {"buildx plugin", "Compose v2 plugin", "containerd image store"} <= set(missing)
    assert "base image debian:trixie-slim" in missing


def test_old_engine_and_compose_v1_are_missing() -> None:
    old = replace(
        READY, engine=replace(ENGINE, server_version="20.10.24", compose_version="1.29.2")
    )
    missing = names(missing_required(checks(old, TOOLS, BASES)))
    assert missing == ["Docker Engine >= 26", "Compose v2 plugin"]


def test_classic_store_says_how_to_enable_containerd() -> None:
    classic = replace(READY, engine=replace(ENGINE, containerd_store=False))
    (row,) = missing_required(checks(classic, TOOLS, BASES))
    assert "containerd-snapshotter" in row.fix


def test_arm64_from_host_binfmt_counts_before_the_builder_reports_it() -> None:
    amd64_only = replace(ENGINE, platforms=("linux/amd64",))
    assert names(missing_required(checks(replace(READY, engine=amd64_only), TOOLS, BASES))) == [
        "binfmt linux/arm64"
    ]
    with_binfmt = replace(READY, engine=amd64_only, binfmt_arm64=True)
    assert missing_required(checks(with_binfmt, TOOLS, BASES)) == []
