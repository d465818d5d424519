"""Stage 09: one multi-arch index in the local registry, tagged by the scheme, scanned
before the push, signed and attested by digest; chapter 08's stack (nginx in front) runs
only the verified digest, and an unsigned image pushed over the tag is refused as
unsigned, with advice that never says to sign it."""

import contextlib
import shutil

import pytest
from python_on_whales.exceptions import DockerException

from ops import registry
from ops.baseimages import load_lock
from ops.lessons.ch09 import PREFIX, REPOSITORY
from tests.conftest import require
from tests.stages.lessonrun import check_lesson, lesson_stage, require_image, stage_context

pytestmark = [pytest.mark.stage, pytest.mark.docker]


def test_chapter_09_lesson_holds(docker) -> None:
    for name in ("postgres", "debian", "nginx"):
        require_image(docker, load_lock()[name].ref)
    require(registry.answering(), f"needs the registry on {registry.ADDRESS}: invoke setup")
    require(shutil.which("cosign") is not None, "needs cosign: invoke setup")
    ctx = stage_context(docker, 9)
    # A database volume another checkout initialised holds another password: start without.
    with contextlib.suppress(DockerException):
        docker.volume.remove(f"{PREFIX}_db-data")
    try:
        with lesson_stage(ctx, 9):
            check_lesson(ctx, 9)
    finally:
        # The images this test built or pulled; the registry keeps the published stage.
        for image in docker.image.list(filters=[("reference", f"{PREFIX}*")]):
            with contextlib.suppress(DockerException):
                docker.image.remove(image, force=True)
        for image in docker.image.list(filters=[("reference", f"{REPOSITORY}*")]):
            with contextlib.suppress(DockerException):
                docker.image.remove(image, force=True)
