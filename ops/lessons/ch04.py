"""Chapter 04, Dockerfiles: the order of the steps decides what a code change rebuilds.

The check builds both Dockerfiles of the stage from a copy of its tree, changes one line of
app code in that copy, and rebuilds both: BuildKit's own progress says which steps re-ran
and which came from the cache. The learner's tree is never modified.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import NoSuchNetwork

from ops.baseimages import resolve_refs
from ops.build import FINISHED, STEP_LINE, build_args, change_for_rebuild
from ops.ca import host_ca_bundle
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.probes import (
    POSTGRES_DB,
    POSTGRES_USER,
    container,
    generated_secret,
    http_status,
    postgres_ready,
    remove_container,
    wait_for,
)
from ops.version import SourceVersion, source_version

PGDATA = "/var/lib/postgresql/data"


@dataclass(frozen=True)
class ImageStage:
    """Chapters 04-06: the stage's own image and PostgreSQL, run by hand on a user-defined
    network (Compose arrives in chapter 08). `volume` keeps the database in a named volume
    (chapter 06). Chapter 07 extends it: more networks, and nginx in front of the app."""

    number: int
    port: int
    target: str | None = None
    volume: str | None = None

    @property
    def prefix(self) -> str:
        return f"driftwood-ch{self.number:02d}"

    @property
    def image(self) -> str:
        return f"{IMAGE}:stage-{self.number:02d}"

    @property
    def network(self) -> str:
        """The network the database and the app share."""
        return f"{self.prefix}-net"

    @property
    def networks(self) -> tuple[str, ...]:
        return (self.network,)

    @property
    def db(self) -> str:
        return f"{self.prefix}-db"

    @property
    def app(self) -> str:
        return f"{self.prefix}-app"

    @property
    def containers(self) -> tuple[str, ...]:
        """Every container of the stage, in the order `down` removes them."""
        return (self.app, self.db)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def app_options(self, root: Path) -> dict[str, object]:
        return {
            "networks": [self.network],
            "envs": {
                "DRIFTWOOD_DATABASE_URL": f"postgresql+psycopg://{POSTGRES_USER}@db:5432/"
                f"{POSTGRES_DB}",
                "DRIFTWOOD_DATABASE_PASSWORD": generated_secret(root, "db-password"),
                "DRIFTWOOD_SECRET_KEY": generated_secret(root, "secret-key"),
                "WEB_CONCURRENCY": "2",
            },
        }

    def create_networks(self, docker: DockerClient) -> None:
        docker.network.create(self.network)

    def start_app(self, ctx: LessonContext, options: dict[str, object]) -> None:
        """The app container, its port published on 127.0.0.1."""
        ctx.docker.run(
            self.image,
            detach=True,
            name=self.app,
            publish=[(f"127.0.0.1:{self.port}", 8000)],
            restart="on-failure:5",
            **options,  # type: ignore[arg-type]
        )

    def up(self, ctx: LessonContext) -> str:
        self.down(ctx)
        docker = ctx.docker
        build(docker, ctx.root, "Dockerfile", self.image, target=self.target)
        self.create_networks(docker)
        docker.run(
            resolve_refs(docker)["POSTGRES_IMAGE"],
            detach=True,
            name=self.db,
            networks=[self.network],
            network_aliases=["db"],
            envs={
                "POSTGRES_USER": POSTGRES_USER,
                "POSTGRES_DB": POSTGRES_DB,
                "POSTGRES_PASSWORD": generated_secret(ctx.root, "db-password"),
            },
            volumes=[(self.volume, PGDATA)] if self.volume else [],
            restart="unless-stopped",
        )
        wait_for(f"{self.db} accepting connections", lambda: postgres_ready(docker, self.db))
        options = self.app_options(ctx.root)
        docker.run(self.image, ["migrate"], entrypoint="driftwood", remove=True, **options)  # type: ignore[arg-type]
        self.start_app(ctx, options)
        wait_for("the app answering /readyz", lambda: http_status(self.url + "readyz") == 200)
        kept = f"; the database is in volume {self.volume}" if self.volume else ""
        return (
            f"the app: {self.url}; containers {', '.join(self.containers)} on "
            f"{', '.join(self.networks)}{kept}"
        )

    def down(self, ctx: LessonContext) -> str:
        for name in self.containers:
            remove_container(ctx.docker, name)
        for network in self.networks:
            with contextlib.suppress(NoSuchNetwork):
                ctx.docker.network.remove(network)
        kept = f" (the volume {self.volume} stays)" if self.volume else ""
        return f"removed {', '.join(self.containers)} and {', '.join(self.networks)}{kept}"


STAGE = ImageStage(number=4, port=8004)
LESSON = Lesson(chapter=4, title="Dockerfiles", up=STAGE.up, down=STAGE.down)

NAIVE = "Dockerfile.naive"
ORDERED = "Dockerfile"
IMAGE = "driftwood"
# The step that installs the dependencies, as both Dockerfiles write it.
DEPENDENCY_STEP = "pip install -r requirements/app.lock"
CODE_FILE = Path("app/driftwood/__init__.py")
# Left out of the working copy: big, and never part of a stage's own files.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".cache", "reports", "__pycache__")


@dataclass(frozen=True)
class BuildRun:
    """One build: how long it took, how each step finished (DONE, CACHED), its digest."""

    tag: str
    seconds: float
    steps: dict[str, str]
    digest: str | None = None

    def state(self, fragment: str) -> str | None:
        """How the step whose instruction contains `fragment` finished, if it ran."""
        for name, state in self.steps.items():
            if fragment in name:
                return state
        return None

    @property
    def cached(self) -> int:
        return sum(state == "CACHED" for state in self.steps.values())


def step_states(lines: list[str]) -> dict[str, str]:
    """BuildKit plain progress -> {step's first line: DONE/CACHED/ERROR}, internal steps too."""
    names: dict[str, str] = {}
    states: dict[str, str] = {}
    for line in lines:
        match = STEP_LINE.match(line.rstrip("\n"))
        if not match:
            continue
        step, text = match["id"], match["text"]
        if step not in names:
            names[step] = text
        elif finished := FINISHED.fullmatch(text):
            states[names[step]] = finished["state"]
    return {name: state for name, state in states.items() if not name.startswith("[internal]")}


def build(
    docker: DockerClient,
    context: Path,
    dockerfile: str,
    tag: str,
    *,
    target: str | None = None,
    cache: bool = True,
    secret: Path | None = None,
    output: dict[str, str] | None = None,
    source: SourceVersion | None = None,
) -> BuildRun:
    """Build `context/dockerfile` with the pinned bases and the CA secret: loaded as `tag`,
    or written where `output` (a BuildKit exporter) says. `source` (default: the commit now
    checked out) sets the version labels and SOURCE_DATE_EPOCH."""
    source = source or source_version(context)
    ca = secret or host_ca_bundle()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="driftwood-build-") as tmp:
        metadata = Path(tmp) / "metadata.json"
        started = time.monotonic()
        stream = docker.buildx.build(
            context,
            file=context / dockerfile,
            target=target,
            build_args=build_args(docker, source, {}),
            secrets=[f"id=ca,src={ca}"] if ca else [],
            cache=cache,
            tags=[] if output else [tag],
            load=not output,
            output=output or {},
            provenance=False,
            metadata_file=metadata,
            progress="plain",
            stream_logs=True,
        )
        lines.extend(stream)  # type: ignore[arg-type]
        seconds = round(time.monotonic() - started, 2)
        digest = json.loads(metadata.read_text()).get("containerimage.digest")
    return BuildRun(tag, seconds, step_states(lines), digest)


def rebuild_experiment(ctx: LessonContext) -> dict[str, tuple[BuildRun, BuildRun]]:
    """{"naive"|"ordered": (build before, rebuild after a one-line code change)}."""
    with tempfile.TemporaryDirectory(prefix="driftwood-ch04-") as tmp:
        copy = Path(tmp) / "stage"
        shutil.copytree(ctx.root, copy, ignore=NOT_COPIED)
        tags = {"naive": f"{IMAGE}:stage-04-naive", "ordered": f"{IMAGE}:stage-04"}
        files = {"naive": NAIVE, "ordered": ORDERED}
        before = {k: build(ctx.docker, copy, files[k], tags[k]) for k in files}
        change_for_rebuild(copy / CODE_FILE)
        after = {k: build(ctx.docker, copy, files[k], f"{tags[k]}-rebuild") for k in files}
    return {k: (before[k], after[k]) for k in files}


def _experiment(ctx: LessonContext) -> dict[str, tuple[BuildRun, BuildRun]]:
    return ctx.once("ch04.rebuild", lambda: rebuild_experiment(ctx))


@LESSON.claim(
    "The stage runs the image the cache-aware Dockerfile built, and it answers /readyz.",
    hint=f"invoke stage.up 4 builds and starts it; `docker logs {STAGE.app}`",
)
def stage_serves(ctx: LessonContext) -> Result:
    app = container(ctx.docker, STAGE.app)
    built = ctx.docker.image.inspect(STAGE.image).id == app.image
    status = http_status(STAGE.url + "readyz")
    return Result.expect(
        built and status == 200, f"{STAGE.app} runs {app.config.image}: /readyz {status}"
    )


@LESSON.claim(
    "After a one-line code change, the naive Dockerfile reinstalls every dependency.",
    hint="Dockerfile.naive: `COPY . .` comes before `pip install`, so any changed file "
    "invalidates the install step and everything after it.",
)
def naive_reinstalls(ctx: LessonContext) -> Result:
    _, rebuild = _experiment(ctx)["naive"]
    state = rebuild.state(DEPENDENCY_STEP)
    return Result.expect(
        state == "DONE",
        f"dependency step {state or 'missing'}; rebuild {rebuild.seconds:.1f} s, "
        f"{rebuild.cached}/{len(rebuild.steps)} steps from the cache",
        naive_rebuild_s=rebuild.seconds,
        naive_cached_steps=rebuild.cached,
        naive_steps=len(rebuild.steps),
    )


@LESSON.claim(
    "After the same change, the cache-aware Dockerfile takes its dependencies from the cache.",
    hint="Dockerfile: copy requirements/app.lock and install it before `COPY app app`; the "
    "install step's cache key must depend on the lock file only.",
)
def ordered_reuses_cache(ctx: LessonContext) -> Result:
    runs = _experiment(ctx)
    _, rebuild = runs["ordered"]
    naive_seconds = runs["naive"][1].seconds
    state = rebuild.state(DEPENDENCY_STEP)
    return Result.expect(
        state == "CACHED",
        f"dependency step {state or 'missing'}; rebuild {rebuild.seconds:.1f} s "
        f"(naive {naive_seconds:.1f} s), {rebuild.cached}/{len(rebuild.steps)} steps cached",
        ordered_rebuild_s=rebuild.seconds,
        ordered_cached_steps=rebuild.cached,
        ordered_steps=len(rebuild.steps),
    )


def app_folder(docker: DockerClient, image: str) -> tuple[list[str], int]:
    """The top-level names under /app in `image` and how many files it holds in all."""
    script = (
        "import json, os; names = sorted(os.listdir('/app')); "
        "count = sum(len(f) for _, _, f in os.walk('/app')); print(json.dumps([names, count]))"
    )
    output = docker.run(image, ["-c", script], entrypoint="python", remove=True)
    names, count = json.loads(str(output))
    return names, count


@LESSON.claim(
    "`COPY . .` without a .dockerignore puts the whole folder in the image; named COPYs "
    "take only what the app needs.",
    hint="Compare /app in both images (`docker run --rm --entrypoint ls IMAGE /app`): the "
    "naive one carries tests/, ops/ and every other file of the folder.",
)
def copy_everything(ctx: LessonContext) -> Result:
    runs = _experiment(ctx)
    naive_names, naive_files = app_folder(ctx.docker, runs["naive"][0].tag)
    ordered_names, ordered_files = app_folder(ctx.docker, runs["ordered"][0].tag)
    extra = sorted(set(naive_names) - set(ordered_names))
    return Result.expect(
        {"tests", "ops"} <= set(extra) and ordered_files < naive_files,
        f"naive /app: {naive_files} files (also {', '.join(extra)}); "
        f"cache-aware /app: {ordered_files} files ({', '.join(ordered_names)})",
        naive_app_files=naive_files,
        ordered_app_files=ordered_files,
    )


@LESSON.claim(
    "The cache-aware image starts gunicorn itself (exec-form ENTRYPOINT and CMD); the naive "
    "one starts /bin/sh, which then starts gunicorn.",
    hint="`docker image inspect` .Config.Entrypoint and .Config.Cmd: a JSON list runs as "
    "given, a plain string is wrapped in /bin/sh -c.",
)
def exec_form(ctx: LessonContext) -> Result:
    runs = _experiment(ctx)
    naive = ctx.docker.image.inspect(runs["naive"][0].tag).config
    ordered = ctx.docker.image.inspect(runs["ordered"][0].tag).config
    naive_start = [*(naive.entrypoint or []), *(naive.cmd or [])]
    ordered_start = [*(ordered.entrypoint or []), *(ordered.cmd or [])]
    return Result.expect(
        ordered_start[:1] == ["gunicorn"] and naive_start[:2] == ["/bin/sh", "-c"],
        f"cache-aware starts {ordered_start}; naive starts {naive_start}",
    )


@LESSON.claim(
    "Build arguments (VERSION, REVISION) stamp the image's labels but are not in the "
    "container's environment; ENV values are.",
    hint="Dockerfile: ARG for build-time values, ENV for what the running app must see; "
    "`docker image inspect` .Config.Labels and .Config.Env.",
)
def arg_versus_env(ctx: LessonContext) -> Result:
    tag = _experiment(ctx)["ordered"][0].tag
    config = ctx.docker.image.inspect(tag).config
    names = {entry.split("=", 1)[0] for entry in config.env or []}
    labels = config.labels or {}
    version = labels.get("org.opencontainers.image.version")
    expected = source_version(ctx.root).version
    return Result.expect(
        version == expected and not {"VERSION", "REVISION"} & names and "PYTHONUNBUFFERED" in names,
        f"label version={version!r} (project {expected}); environment has "
        f"{', '.join(sorted(names))}",
    )
