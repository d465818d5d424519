"""Every built chapter's README follows the course's shape (chapters/README.md), with the
markers its measured numbers are written between, and every chapter has its lesson."""

from pathlib import Path

import pytest

from ops import chapters, lessons, measured

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHAPE = [
    "## What it is",
    "## How it works",
    "## When to use it",
    "## When not to",
    "## Mistakes that cost real outages",
    "## Practices that prevent them",
    "## What changed from the previous stage, and why",
    "## Commands to run",
    "## What you should observe",
    "## Knowledge check",
]
BUILT = chapters.built(PROJECT_ROOT)


@pytest.mark.parametrize("chapter", BUILT, ids=[c.folder for c in BUILT])
def test_readme_has_the_shape_in_order(chapter: chapters.Chapter) -> None:
    text = (PROJECT_ROOT / chapter.path / "README.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == SHAPE
    observe = text.split("## What you should observe", 1)[1].split("## Knowledge check", 1)[0]
    assert measured.BEGIN in observe and measured.END in observe
    assert "<details>" in text.split("## Knowledge check", 1)[1]  # the answers


@pytest.mark.parametrize("chapter", BUILT, ids=[c.folder for c in BUILT])
def test_every_built_chapter_has_a_lesson(chapter: chapters.Chapter) -> None:
    assert lessons.load(chapter.number).chapter == chapter.number
