"""Stage 05: hundreds of megabytes smaller than stage 04, no build tools or package caches in
the runtime image, the build secret in no layer, two clean builds with the same digest."""

import pytest

from ops import chapters
from ops.baseimages import load_lock
from ops.lessons import LessonContext
from ops.lessons.ch04 import ORDERED, build
from ops.lessons.ch05 import STAGE_04
from tests.stages.lessonrun import (
    PROJECT_ROOT,
    check_lesson,
    lesson_stage,
    require_image,
    stage_context,
)

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def stage_04_image(ctx: LessonContext) -> None:
    """The comparison needs stage 04's image; build it (from main) when this test runs alone."""
    if ctx.docker.image.exists(STAGE_04):
        return
    try:
        _, root = chapters.stage_root(PROJECT_ROOT, 4)
    except chapters.ChapterError as exc:
        pytest.skip(f"stage 04's image is needed and cannot be built here: {exc}")
    build(ctx.docker, root, ORDERED, STAGE_04)


def test_chapter_05_lesson_holds(docker) -> None:
    for name in ("postgres", "debian", "python"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 5)
    stage_04_image(ctx)
    with lesson_stage(ctx, 5):
        outcomes = check_lesson(ctx, 5)
    measured = {k: v for o in outcomes for k, v in o.measured.items()}
    assert measured["saved_mb"] >= 200
    assert measured["same_digest"] is True
