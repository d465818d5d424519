"""Stage 02: the database by digest; images are config plus layers; tags move, digests do
not; three bases measured against the app's needs."""

import pytest

from ops.baseimages import load_lock
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_02_lesson_holds(docker) -> None:
    for name in ("postgres", "python", "debian"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 2)
    with lesson_stage(ctx, 2):
        outcomes = check_lesson(ctx, 2)
    assert len(outcomes) == 5
