"""Stage 06: without a named volume the data goes with the container; with one it stays;
backup, wipe and restore give back the same rows; tmpfs and bind mounts behave as taught."""

import pytest

from ops.baseimages import load_lock
from ops.lessons.ch06 import STAGE, remove_volume
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_06_lesson_holds(docker) -> None:
    for name in ("postgres", "debian"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 6)
    # A volume left by an earlier run holds a database initialised with that checkout's
    # password (secrets/ is per checkout): the test starts without one, and leaves none.
    remove_volume(docker, STAGE.volume)
    try:
        with lesson_stage(ctx, 6):
            check_lesson(ctx, 6)
        # The stage's own volume outlives `stage.down`, as the chapter teaches.
        assert docker.volume.exists(STAGE.volume)
    finally:
        remove_volume(docker, STAGE.volume)
