"""The stage tags of this repository match what `invoke stage.tag` computes from HEAD.

A commit on main that changes any stage makes its tag stale: run `invoke stage.tag` (and
push the tags). Stale tags are skipped on a laptop and fail in CI, like every missing
prerequisite. A clone that carries no stage tag at all (a branch fetched without tags) has
nothing to compare: there the test only proves the chain is deterministic.
"""

from pathlib import Path

import pytest

from ops import chapters
from tests.conftest import require

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_stage_tags_are_current() -> None:
    require((PROJECT_ROOT / ".git").exists(), "needs a git checkout of Driftwood")
    chain = chapters.stage_commits(PROJECT_ROOT)
    assert [c.number for c, _ in chain] == [c.number for c in chapters.built(PROJECT_ROOT)]
    assert chapters.stage_commits(PROJECT_ROOT) == chain, "the stage chain is not deterministic"
    if all(chapters.current_tag(PROJECT_ROOT, c) is None for c, _ in chain):
        pytest.skip("this clone has no stage tags to compare (fetch them with `git fetch --tags`)")
    stale = chapters.stale_tags(PROJECT_ROOT, chain)
    require(not stale, "stage tags not current: " + "; ".join(stale) + " (run invoke stage.tag)")
