"""The stage manifest: parsing, clear errors naming file and field, discovery and lookup."""

from pathlib import Path

import pytest

from ops.stages import CHECKS, StageError, discover, find_stage, load_stage

PROJECT_ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
name = "{name}"
number = {number}
title = "A stage"
dockerfile = "Dockerfile"
context = "."
image = "driftwood-{name}"
platforms = ["linux/amd64"]
size_budget_mb = 100
"""


def write_stage(folder: Path, name: str = "demo", number: int = 1, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text("FROM scratch\n")
    manifest = folder / "stage.toml"
    manifest.write_text(MINIMAL.format(name=name, number=number) + extra)
    return manifest


def test_minimal_manifest_gets_defaults(tmp_path: Path) -> None:
    stage = load_stage(write_stage(tmp_path))
    assert stage.name == "demo"
    assert stage.dockerfile == tmp_path / "Dockerfile"
    assert stage.compose_files == ()
    assert stage.structure_test is None
    assert stage.expect == {}
    assert stage.run.port == 8000
    assert stage.tag == "stage-01"


def test_full_manifest(tmp_path: Path) -> None:
    extra = """
target = "app"
compose = ["compose.yaml"]
structure_test = "structure.yaml"
[run]
service = "web"
port = 8080
url = "http://127.0.0.1:8080/"
[expect]
"policy.non_root" = "fail"
"hadolint" = "pass"
"""
    stage = load_stage(write_stage(tmp_path, extra=extra))
    assert stage.target == "app"
    assert stage.compose_files == (tmp_path / "compose.yaml",)
    assert stage.structure_test == tmp_path / "structure.yaml"
    assert stage.run.service == "web"
    assert stage.run.port == 8080
    assert stage.expect == {"policy.non_root": "fail", "hadolint": "pass"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('title = "A stage"\n', ""), "missing required field title"),
        (lambda t: t.replace("number = 1", 'number = "1"'), "field number must be a int"),
        (lambda t: t.replace("number = 1", "number = true"), "field number must be a int"),
        (lambda t: t.replace('["linux/amd64"]', "[]"), "field platforms must not be empty"),
        (lambda t: t.replace('["linux/amd64"]', "[1]"), "field platforms must list strings"),
        (lambda t: t.replace('"Dockerfile"', '"Nope"'), "field dockerfile:"),
        (lambda t: t + '[expect]\n"policy.bogus" = "pass"\n', "expect.policy.bogus: unknown"),
        (lambda t: t + '[expect]\n"hadolint" = "yes"\n', 'must be "pass" or "fail"'),
        (lambda t: t + "[run]\nport = 'x'\n", "field run.port must be a int"),
        (lambda t: t + "name = ", "not valid TOML"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, edit, message: str) -> None:
    manifest = write_stage(tmp_path)
    manifest.write_text(edit(manifest.read_text()))
    with pytest.raises(StageError) as caught:
        load_stage(manifest)
    assert str(manifest) in str(caught.value)
    assert message in str(caught.value)


def test_discover_orders_chapters_then_final(tmp_path: Path) -> None:
    write_stage(tmp_path, "final", 12)
    write_stage(tmp_path / "chapters" / "02-layers", "layers", 2)
    write_stage(tmp_path / "chapters" / "01-naive", "naive", 1)
    assert [s.name for s in discover(tmp_path)] == ["naive", "layers", "final"]
    assert find_stage(tmp_path, None).name == "final"
    assert find_stage(tmp_path, "2").name == "layers"
    assert find_stage(tmp_path, "01").name == "naive"


def test_unknown_stage_lists_the_known_ones(tmp_path: Path) -> None:
    write_stage(tmp_path, "final", 12)
    with pytest.raises(StageError, match="unknown stage 'nope': choose one of final"):
        find_stage(tmp_path, "nope")


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    write_stage(tmp_path, "same", 13)
    write_stage(tmp_path / "chapters" / "01-x", "same", 1)
    with pytest.raises(StageError, match="already used"):
        discover(tmp_path)


def test_no_manifest_at_all(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="add one for the final stage"):
        find_stage(tmp_path, None)


def test_the_final_stage_declares_every_check() -> None:
    stage = find_stage(PROJECT_ROOT, None)
    assert stage.name == "final"
    assert set(stage.expect) == set(CHECKS)
    assert set(stage.expect.values()) == {"pass"}
