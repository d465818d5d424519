"""Stage 08: the stack from compose.yaml reaches healthy in every one of 20 cold starts;
without the health condition it fails at least once; interpolation precedence; profiles."""

import pytest

from ops import stack
from ops.baseimages import load_lock
from ops.lessons.ch08 import COLD_STARTS, STAGE
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_08_lesson_holds(docker) -> None:
    for name in ("postgres", "debian", "nginx"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 8)
    # Start without the stage's volume (one left by an earlier run may hold a database made
    # with another password), and leave none behind.
    if (ctx.root / ".env").exists():
        stack.down(STAGE.stack(ctx.root), volumes=True)
    try:
        with lesson_stage(ctx, 8):
            outcomes = check_lesson(ctx, 8)
    finally:
        stack.down(STAGE.stack(ctx.root), volumes=True)
    measured = {k: v for o in outcomes for k, v in o.measured.items()}
    assert measured["healthy_starts"] == COLD_STARTS
    assert measured["trap_failures"] >= 1
