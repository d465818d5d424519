"""Stage 11: logs stay under their cap while the app logs heavily; /healthz and /readyz mean
different things in a database outage; /metrics counts every request; `docker stats` and
`docker system df` account for the stage; a crash loop is diagnosed by its real cause."""

import pytest

from ops.baseimages import load_lock
from ops.lessons import ch11
from ops.stack import down
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_11_lesson_holds(docker) -> None:
    for name in ("postgres", "debian"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 11)
    # A volume left by another checkout holds a database initialised with that checkout's
    # password (secrets/ is per checkout): start without one, and leave none.
    the_stack = ch11.stage_stack(ctx.root)
    down(the_stack, volumes=True)
    try:
        with lesson_stage(ctx, 11):
            check_lesson(ctx, 11)
    finally:
        down(the_stack, volumes=True)
    assert not docker.container.exists(ch11.MIGRATE)
