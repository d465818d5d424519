"""The stage tags of this repository match what `invoke stage.tag` computes from HEAD.

A commit on main that changes any stage makes its tag stale: run `invoke stage.tag` (and
push the tags). Skipped on a laptop, failed in CI, like every missing prerequisite.
"""

from pathlib import Path

from ops import chapters
from tests.conftest import require

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_stage_tags_are_current() -> None:
    require((PROJECT_ROOT / ".git").exists(), "needs a git checkout of Driftwood")
    chain = chapters.stage_commits(PROJECT_ROOT)
    assert [c.number for c, _ in chain] == [c.number for c in chapters.built(PROJECT_ROOT)]
    stale = chapters.stale_tags(PROJECT_ROOT, chain)
    require(not stale, "stage tags not current: " + "; ".join(stale) + " (run invoke stage.tag)")
