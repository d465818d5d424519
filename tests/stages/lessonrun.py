"""Run a chapter's lesson as its stage test.

A test starts its stage (the lesson's own `up`, or ops.runstage for stages with an image),
runs every claim, records the outcomes under reports/NN-slug/lesson.json (the README's
measured numbers come from there), and fails listing each claim that did not hold.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from ops import chapters, lessons
from ops.lessons import LessonContext, Outcome
from tests.conftest import require

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def require_image(docker: DockerClient, ref: str) -> None:
    require(docker.image.exists(ref), f"needs the image {ref}: invoke setup seeds it")


def stage_context(docker: DockerClient, number: int) -> LessonContext:
    """The stage's tree: assembled from main, or this checkout when it is that stage."""
    try:
        _, root = chapters.stage_root(PROJECT_ROOT, number)
    except chapters.ChapterError as exc:  # a checkout of another stage: not this test's
        pytest.skip(str(exc))
    return LessonContext(docker, root)


@contextmanager
def lesson_stage(ctx: LessonContext, number: int) -> Iterator[None]:
    """Bring a stage without an image of its own up with its lesson's hooks, then down."""
    lesson = lessons.load(number)
    assert lesson.up and lesson.down, f"chapter {number:02d}'s lesson has no up/down"
    try:
        lesson.up(ctx)
        yield
    finally:
        lesson.down(ctx)


def check_lesson(ctx: LessonContext, number: int) -> list[Outcome]:
    """Run every claim, record them, and fail naming each claim that did not hold."""
    lesson = lessons.load(number)
    outcomes = lessons.run(lesson, ctx)
    chapter = chapters.find(PROJECT_ROOT, number)
    lessons.save(lesson, outcomes, PROJECT_ROOT / "reports" / chapter.folder / "lesson.json")
    failed = [lessons.format_outcome(o) for o in outcomes if not o.passed]
    assert not failed, "claims that did not hold:\n" + "\n".join(failed)
    return outcomes
