"""Stage 03: the app in a stock Python container by hand; the PID 1 trap measured both
ways; a crash is restarted and a clean exit is not."""

import pytest

from ops.baseimages import load_lock
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_03_lesson_holds(docker) -> None:
    for name in ("postgres", "python"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 3)
    with lesson_stage(ctx, 3):
        outcomes = check_lesson(ctx, 3)
    measured = {k: v for o in outcomes for k, v in o.measured.items()}
    assert measured["shell_form_exit"] == 137
    assert measured["exec_form_exit"] == 0
