"""Build a stage with BuildKit, showing one line per step, and record what came out.

BuildKit's plain progress is a stream of `#N ...` lines: the first line of each step names
it, then come its output lines, then `#N DONE 1.2s`, `#N CACHED` or `#N ERROR: ...`.
`Progress` condenses that stream to one line per finished step; the full log is kept and
shown when the build fails.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.components.image.models import ImageInspectResult
from python_on_whales.exceptions import DockerException

from ops.baseimages import resolve_refs
from ops.ca import host_ca_bundle
from ops.stages import Stage
from ops.version import SourceVersion

STEP_LINE = re.compile(r"#(?P<id>\d+) (?P<text>.*)")
FINISHED = re.compile(r"(?P<state>DONE|CACHED|ERROR):?(?: (?P<rest>.*))?")
HIDDEN_STEPS = ("[internal]", "[auth]")


class BuildFailed(Exception):
    """The build ran and failed; `log` is BuildKit's full output."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(message)
        self.log = log


@dataclass
class Progress:
    """Feed it BuildKit plain-progress lines; it returns a line to show per finished step."""

    names: dict[str, str] = field(default_factory=dict)
    steps: int = 0
    cached: int = 0
    failed: list[str] = field(default_factory=list)

    def feed(self, line: str) -> str | None:
        match = STEP_LINE.match(line.rstrip("\n"))
        if not match:
            return None
        step, text = match["id"], match["text"]
        if step not in self.names:
            self.names[step] = text
            return None
        finished = FINISHED.fullmatch(text)
        name = self.names[step]
        if not finished or name.startswith(HIDDEN_STEPS):
            return None
        self.steps += 1
        shown = name if len(name) <= 100 else name[:97] + "..."
        if finished["state"] == "CACHED":
            self.cached += 1
            return f"  cached  {shown}"
        if finished["state"] == "ERROR":
            self.failed.append(name)
            return f"  FAILED  {shown}: {finished['rest'] or ''}"
        return f"{finished['rest'] or '':>8}  {shown}"


@dataclass
class BuildRecord:
    stage: str
    image: str  # the local tag, or repository@digest when pushed
    image_id: str | None
    digest: str | None
    size_bytes: int | None
    seconds: float
    platforms: list[str]
    steps: int
    cached_steps: int
    pushed: bool
    kind: str = "build"  # "build", "cold" (no cache) or "rebuild" (after a code change)
    layers: int | None = None
    user: str | None = None
    healthcheck: bool | None = None

    def save(self, reports: Path) -> Path:
        path = (
            reports / self.stage / ("build.json" if self.kind == "build" else f"{self.kind}.json")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def local_tag(stage: Stage, kind: str = "build") -> str:
    """`driftwood:stage-12`; the rebuild probe (built from a changed copy) gets its own tag."""
    return f"{stage.image}:{stage.tag}" + ("-rebuild" if kind == "rebuild" else "")


def change_for_rebuild(path: Path, why: str = "a code change, to time the rebuild") -> None:
    """Append a comment line no earlier run wrote. BuildKit keys COPY by file content, so a
    change that repeats a previous run's comes back from the cache and times nothing."""
    path.write_text(f"{path.read_text()}\n# {why}: {uuid.uuid4().hex}\n")


def build_args(
    docker: DockerClient, source: SourceVersion, extra: dict[str, str]
) -> dict[str, str]:
    """Pinned base images, the version stamps the Dockerfile's labels use, then the user's."""
    return {
        **resolve_refs(docker),
        "VERSION": source.version,
        "REVISION": source.commit,
        "CREATED": source.created,
        "SOURCE_DATE_EPOCH": str(source.commit_time),
        **extra,
    }


def build_stage(
    docker: DockerClient,
    stage: Stage,
    source: SourceVersion,
    *,
    show: Callable[[str], None],
    platforms: list[str] | None = None,
    extra_args: dict[str, str] | None = None,
    cache: bool = True,
    push_to: str | None = None,
    provenance: bool = False,
    context: Path | None = None,
    kind: str = "build",
) -> BuildRecord:
    """Build `stage`; load it locally as `image:stage-NN`, or push it to `push_to`.

    `push_to` is `repository:tag`. BuildKit uploads every layer and per-platform manifest
    before the index, and the registry sets the tag only when the index arrives, so a
    failed push leaves that tag unset, never pointing at something partial.
    """
    ca = host_ca_bundle()
    progress = Progress()
    log: list[str] = []
    output: dict[str, str] = {}
    if push_to:
        # One OCI index for all platforms. (`push-by-digest`, which would push no tag at
        # all, needs a docker-container builder, whose image cannot be pulled offline.)
        output = {"type": "image", "name": push_to, "push": "true", "oci-mediatypes": "true"}
    with tempfile.TemporaryDirectory(prefix="driftwood-build-") as tmp:
        metadata_file = Path(tmp) / "metadata.json"
        started = time.monotonic()
        try:
            stream = docker.buildx.build(
                context or stage.context,
                file=stage.dockerfile,
                target=stage.target,
                platforms=platforms,
                build_args=build_args(docker, source, extra_args or {}),
                secrets=[f"id=ca,src={ca}"] if ca else [],
                cache=cache,
                tags=[] if push_to else [local_tag(stage, kind)],
                load=not push_to,
                output=output,
                provenance={"mode": "max"} if provenance else False,
                metadata_file=metadata_file,
                progress="plain",
                stream_logs=True,
            )
            for line in stream:  # type: ignore[union-attr]
                log.append(line)
                shown = progress.feed(line)
                if shown:
                    show(shown)
        except DockerException as exc:
            failed = progress.failed[-1] if progress.failed else "before the first step"
            raise BuildFailed(
                f"the build of stage {stage.name} failed at {failed} (exit {exc.return_code}); "
                "fix the step above and run again",
                "".join(log),
            ) from exc
        seconds = time.monotonic() - started
        metadata = json.loads(metadata_file.read_text()) if metadata_file.exists() else {}
    digest = metadata.get("containerimage.digest")
    record = BuildRecord(
        stage=stage.name,
        image=f"{push_to.rpartition(':')[0]}@{digest}" if push_to else local_tag(stage, kind),
        image_id=digest,
        digest=digest,
        size_bytes=None,
        seconds=round(seconds, 2),
        platforms=platforms or [],
        steps=progress.steps,
        cached_steps=progress.cached,
        pushed=bool(push_to),
        kind=kind,
    )
    if not push_to:
        _describe(record, docker.image.inspect(record.image))
    return record


def _describe(record: BuildRecord, image: ImageInspectResult) -> None:
    """What `docker image inspect` says about the image just built."""
    config = image.config
    check = config.healthcheck.test if config and config.healthcheck else None
    record.image_id = image.id
    record.size_bytes = image.size
    record.layers = len(image.root_fs.layers or []) if image.root_fs else None
    record.user = (config.user if config else None) or "root"
    record.healthcheck = bool(check) and check[0] != "NONE"
