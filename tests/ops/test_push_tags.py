"""The tagging scheme and reference handling for pushes."""

from pathlib import Path

import pytest

from ops.push import compute_tags, split_reference
from ops.stages import load_stage
from ops.version import SourceVersion, project_version

DATA = Path(__file__).resolve().parents[1] / "data"
SHA = "0123456789abcdef0123456789abcdef01234567"


def source(version: str = "1.4.2", dirty: bool = False) -> SourceVersion:
    return SourceVersion(version, SHA, dirty, 1_764_000_000)


def test_release_tags() -> None:
    stage = load_stage(DATA / "good-image" / "stage.toml")
    assert compute_tags(source(), stage) == ["1.4.2", "1.4", "git-0123456789ab", "stage-91"]


def test_latest_only_on_request_and_dirty_trees_say_so() -> None:
    stage = load_stage(DATA / "good-image" / "stage.toml")
    tags = compute_tags(source(dirty=True), stage, latest=True)
    assert tags[-1] == "latest"
    assert "git-0123456789ab-dirty" in tags


def test_a_prerelease_does_not_move_major_minor() -> None:
    stage = load_stage(DATA / "good-image" / "stage.toml")
    assert compute_tags(source("2.0.0-rc.1"), stage)[:2] == ["2.0.0-rc.1", "git-0123456789ab"]


def test_not_a_semantic_version(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nversion = "1.0"\n')
    with pytest.raises(ValueError, match="not a semantic version"):
        project_version(pyproject)


def test_source_version_stamps() -> None:
    assert source().created == "2025-11-24T16:00:00Z"


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("127.0.0.1:5000/driftwood:stage-12", ("127.0.0.1:5000", "driftwood", "stage-12")),
        ("127.0.0.1:5000/a/b@sha256:ab", ("127.0.0.1:5000", "a/b", "sha256:ab")),
        ("ghcr.io/me/driftwood", ("ghcr.io", "me/driftwood", "latest")),
    ],
)
def test_split_reference(reference: str, parts: tuple[str, str, str]) -> None:
    assert split_reference(reference) == parts
