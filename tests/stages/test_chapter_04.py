"""Stage 04: the naive Dockerfile reinstalls every dependency after a one-line code change,
the cache-aware one takes them from the cache; exec form, ARG vs ENV, what `COPY . .` copies."""

import pytest

from ops.baseimages import load_lock
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_04_lesson_holds(docker) -> None:
    for name in ("postgres", "python"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 4)
    with lesson_stage(ctx, 4):
        outcomes = check_lesson(ctx, 4)
    measured = {k: v for o in outcomes for k, v in o.measured.items()}
    # The cache, not the clock: how many steps each rebuild took from the cache.
    assert measured["ordered_cached_steps"] > measured["naive_cached_steps"]
