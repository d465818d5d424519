"""Stage 11: on chapter 10's hardened stack, logs stay under their cap while the app logs
heavily; /healthz and /readyz mean different things in a database outage; /metrics counts
every request; `docker stats` and `docker system df` account for the stage; a crash loop
from a rotated secret file is diagnosed by its real cause, and the file is put back."""

import pytest

from ops.baseimages import load_lock
from ops.lessons import ch11
from ops.stack import down
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_11_lesson_holds(docker) -> None:
    for name in ("postgres", "debian", "nginx"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 11)
    # A volume left by another checkout holds a database initialised with that checkout's
    # password (secrets/ is per checkout): start without one, and leave none.
    the_stack = ch11.stage_stack(ctx.root)
    down(the_stack, volumes=True)
    try:
        with lesson_stage(ctx, 11):
            secret = ctx.root / "secrets" / ch11.ROTATED
            password = secret.read_text()
            outcomes = check_lesson(ctx, 11)
            # The rotation is undone: the next `up` runs the job with the database's password.
            assert secret.read_text() == password
    finally:
        down(the_stack, volumes=True)
    assert not docker.container.exists(ch11.MIGRATE)
    measured = {k: v for o in outcomes for k, v in o.measured.items()}
    assert measured["restarts"] == 3  # on-failure:3 in compose.operations.yaml: then it stops
