"""Stage 10: the hardened stack runs every process as non-root with no capabilities, under
no-new-privileges and the default seccomp filter, on read-only roots, with its secrets in
files only; the seccomp, capability and user-namespace lessons measured beside it."""

import pytest

from ops.baseimages import load_lock
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_10_lesson_holds(docker) -> None:
    for name in ("postgres", "debian", "nginx"):
        require_image(docker, load_lock()[name].ref)
    ctx = stage_context(docker, 10)
    with lesson_stage(ctx, 10):  # its `down` removes the containers and the volume
        outcomes = check_lesson(ctx, 10)
    measured = {k: v for o in outcomes for k, v in o.measured.items()}
    assert measured["leaks"] == 0
    assert measured["processes"] >= 3
