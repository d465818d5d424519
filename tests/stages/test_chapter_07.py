"""Stage 07: nginx is the only entrance (one port, on 127.0.0.1); the database answers the
app but neither nginx nor the host; names resolve on user-defined networks only; the none
and host network modes are what they claim."""

import pytest

from ops.baseimages import load_lock
from ops.lessons.ch06 import remove_volume
from ops.lessons.ch07 import STAGE
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_07_lesson_holds(docker) -> None:
    for name in ("postgres", "debian", "nginx"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 7)
    # A volume left by an earlier run holds a database initialised with that checkout's
    # password: the test starts without one, and leaves none.
    remove_volume(docker, STAGE.volume)
    try:
        with lesson_stage(ctx, 7):
            outcomes = check_lesson(ctx, 7)
        # `down` removed every container and network the stage and its claims made.
        mine = [("name", STAGE.prefix)]
        assert docker.container.list(all=True, filters=mine) == []
        assert docker.network.list(filters=mine) == []
    finally:
        remove_volume(docker, STAGE.volume)
    measured = {k: v for o in outcomes for k, v in o.measured.items()}
    assert measured["published_ports"] == 1
    assert measured["none_interfaces"] == 1
