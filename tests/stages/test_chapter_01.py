"""Stage 01: the database container is a process in its own namespaces and cgroup."""

import pytest

from ops.baseimages import load_lock
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_01_lesson_holds(docker) -> None:
    require_image(docker, load_lock()["postgres"].ref)
    ctx = stage_context(docker, 1)
    with lesson_stage(ctx, 1):
        outcomes = check_lesson(ctx, 1)
    assert len(outcomes) == 5
