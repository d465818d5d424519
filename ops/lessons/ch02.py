"""Chapter 02, Images: reading what an image is, and referencing it so it cannot change.

The stage is stage 01 with the database image pinned by digest. The lesson reads images the
way `invoke learn.inspect` shows them (layers, history, config, size), moves a tag to prove
it names whatever was tagged last while a digest keeps naming the same content, and
measures three candidate bases against what the app needs.
"""

from __future__ import annotations

from ops import imagefacts
from ops.baseimages import resolve_refs
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.hoststage import HostStage
from ops.lessons.probes import container, http_status

STAGE = HostStage(db="driftwood-ch02-db", db_port=55402, app_port=8002)
DEMO_TAG = "driftwood-ch02/moving:demo"
DISTROLESS = "driftwood-ch02/distroless-style:demo"

LESSON = Lesson(
    chapter=2,
    title="Images",
    up=lambda ctx: STAGE.up(ctx, resolve_refs(ctx.docker)["POSTGRES_IMAGE"]),
    down=STAGE.down,
)


def _refs(ctx: LessonContext) -> dict[str, str]:
    return ctx.once("refs", lambda: resolve_refs(ctx.docker))


@LESSON.claim(
    "The database container runs the image named by digest: name@sha256:..., content-addressed.",
    hint=f"`docker inspect -f '{{{{.Config.Image}}}} {{{{.Image}}}}' {STAGE.db}`; "
    "deploy/base-images.yaml and ops.baseimages.resolve_refs pick the digest",
)
def database_by_digest(ctx: LessonContext) -> Result:
    running = container(ctx.docker, STAGE.db)
    ref = running.config.image
    pinned = "@sha256:" in ref and ctx.docker.image.inspect(ref).id == running.image
    return Result.expect(pinned, f"{STAGE.db} runs {ref} (image {running.image[:19]})")


@LESSON.claim(
    "An image is a config plus layers: each layer was added by one history step, and steps "
    "that only set config (ENV, CMD, ...) add none.",
    hint="invoke learn.inspect postgres:17-trixie; `docker image history --no-trunc IMAGE`",
)
def image_is_layers_and_config(ctx: LessonContext) -> Result:
    facts = imagefacts.describe(ctx.docker, _refs(ctx)["POSTGRES_IMAGE"])
    config_only = len(facts.history) - facts.steps_with_bytes
    return Result.expect(
        facts.layers >= 1
        and facts.steps_with_bytes <= facts.layers <= len(facts.history)
        and bool(facts.entrypoint or facts.cmd),
        f"{facts.layers} layers, {len(facts.history)} history steps ({config_only} "
        f"config-only), entrypoint {list(facts.entrypoint)}, cmd {list(facts.cmd)}, "
        f"{facts.size / 1e6:.0f} MB",
        layers=facts.layers,
        history_steps=len(facts.history),
        size_mb=round(facts.size / 1e6, 1),
    )


@LESSON.claim(
    "A tag moves and a digest does not: after re-tagging, the tag names another image while "
    "the digest reference still names the first.",
    hint="`docker tag A T; docker tag B T; docker inspect -f '{{.Id}}' T A@sha256:...`",
)
def tag_moves_digest_stays(ctx: LessonContext) -> Result:
    refs = _refs(ctx)
    move = imagefacts.tag_moves(ctx.docker, refs["DEBIAN_IMAGE"], refs["PYTHON_IMAGE"], DEMO_TAG)
    return Result.expect(
        move.before != move.after and move.pinned_id == move.before,
        f"{move.tag}: {move.before[7:19]} -> {move.after[7:19]}; "
        f"{move.pinned.rsplit('@', 1)[-1][:19]} still {move.pinned_id[7:19]}",
    )


@LESSON.claim(
    "Measured on the app's needs: Debian slim has no Python; the Python slim image has "
    "Python, pip and a shell; a distroless-style runtime runs the same Python with no shell, "
    "pip or apt, and is the smallest that runs it.",
    hint="invoke learn.bases; which of python3, /bin/sh, pip, apt-get each image can run",
)
def bases_compared(ctx: LessonContext) -> Result:
    refs = _refs(ctx)
    imagefacts.distroless_style(ctx.docker, refs["PYTHON_IMAGE"], DISTROLESS)
    debian, python, distroless = (
        imagefacts.fit(ctx.docker, ref)
        for ref in (refs["DEBIAN_IMAGE"], refs["PYTHON_IMAGE"], DISTROLESS)
    )
    expected = (
        debian.python is None
        and python.python is not None
        and python.pip
        and python.shell
        and distroless.python == python.python
        and not (distroless.shell or distroless.pip or distroless.apt)
        and distroless.size_mb < python.size_mb
    )
    return Result.expect(
        expected,
        "; ".join(
            f"{name} {fit.size_mb:g} MB python={fit.python} sh={fit.shell} pip={fit.pip} "
            f"apt={fit.apt}"
            for name, fit in (("debian", debian), ("python", python), ("distroless", distroless))
        ),
        debian_mb=debian.size_mb,
        python_mb=python.size_mb,
        distroless_mb=distroless.size_mb,
    )


@LESSON.claim(
    "The app on the host still reaches the digest-pinned database: /readyz answers 200.",
    hint=f"the app's log in .cache/stage-state/app.log; `curl -i {STAGE.url}readyz`",
)
def app_ready(ctx: LessonContext) -> Result:
    status = http_status(STAGE.url + "readyz")
    return Result.expect(status == 200, f"{STAGE.url}readyz: {status}")
