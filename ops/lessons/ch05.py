"""Chapter 05, Building well: smaller than stage 04, no build tools inside, no secret in any
layer, and the same digest from two clean builds.

Sizes are measured inside the images (`du` of the root filesystem: what a container gets)
and as the engine stores them (compressed). The two clean builds run with no layer cache
and write OCI archives with `rewrite-timestamp=true`; the build secret carries a random
canary line, searched for in every blob of the archive.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient

from ops.ca import host_ca_bundle
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.ch04 import BuildRun, ImageStage, build
from ops.lessons.probes import container, http_status
from ops.version import SourceVersion, source_version

STAGE = ImageStage(number=5, port=8005, target="runtime")
LESSON = Lesson(chapter=5, title="Building well", up=STAGE.up, down=STAGE.down)

IMAGE = STAGE.image
STAGE_04 = "driftwood:stage-04"
TARGET = "runtime"
HUNDREDS_MB = 200
# Programs that build or install Python software: none belongs in a runtime image. (apt-get
# comes with the Debian base here; the final image, FROM scratch, has no package manager.)
BUILD_TOOLS = ("gcc", "cc", "g++", "make", "pip", "pip3")
CACHES = ("/root/.cache/pip", "/var/cache/apt/archives", "/var/lib/apt/lists")


def _built(ctx: LessonContext) -> BuildRun:
    return ctx.once(
        "ch05.build", lambda: build(ctx.docker, ctx.root, "Dockerfile", IMAGE, target=TARGET)
    )


def inside(docker: DockerClient, image: str, script: str) -> object:
    """Run a Python `script` in `image` (its own interpreter) and parse the JSON it prints."""
    output = docker.run(image, ["-c", script], entrypoint="python3", remove=True)
    return json.loads(str(output))


SIZE_SCRIPT = """
import json, os
total = 0
for top in os.listdir('/'):
    if top in ('proc', 'sys', 'dev'):
        continue
    for root, dirs, files in os.walk('/' + top):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
print(json.dumps(total))
"""


def sizes_mb(docker: DockerClient, image: str) -> tuple[float, float]:
    """(bytes of every file a container of `image` sees, compressed size as stored), in MB."""
    files = inside(docker, image, SIZE_SCRIPT)
    stored = docker.image.inspect(image).size
    return round(float(files) / 1e6, 1), round(stored / 1e6, 1)  # type: ignore[arg-type]


@LESSON.claim(
    "The stage runs the multi-stage image's runtime target, and it answers /readyz.",
    hint=f"invoke stage.up 5 builds `--target runtime` and starts it; `docker logs {STAGE.app}`",
)
def stage_serves(ctx: LessonContext) -> Result:
    app = container(ctx.docker, STAGE.app)
    status = http_status(STAGE.url + "readyz")
    return Result.expect(
        ctx.docker.image.inspect(STAGE.image).id == app.image and status == 200,
        f"{STAGE.app} runs {app.config.image}: /readyz {status}",
    )


@LESSON.claim(
    "The multi-stage image is hundreds of megabytes smaller than stage 04's.",
    hint="Dockerfile: only `COPY --from=build /opt/venv` reaches the runtime stage; compilers, "
    "pip and apt lists stay in `build`. Stage 04's image must exist: `invoke stage.check 4`.",
)
def smaller_than_stage_04(ctx: LessonContext) -> Result:
    if not ctx.docker.image.exists(STAGE_04):
        return Result(False, f"{STAGE_04} is not built")
    this, this_stored = sizes_mb(ctx.docker, _built(ctx).tag)
    before, before_stored = sizes_mb(ctx.docker, STAGE_04)
    saved = before - this
    return Result.expect(
        saved >= HUNDREDS_MB,
        f"stage 04 {before:.0f} MB of files ({before_stored:.0f} MB stored), stage 05 "
        f"{this:.0f} MB ({this_stored:.0f} MB stored): {saved:.0f} MB saved",
        size_mb=this,
        stored_mb=this_stored,
        stage_04_size_mb=before,
        saved_mb=round(saved, 1),
    )


TOOLS_SCRIPT = f"""
import json, shutil
print(json.dumps({{t: shutil.which(t) for t in {BUILD_TOOLS!r} if shutil.which(t)}}))
"""


@LESSON.claim(
    "The runtime image has no compiler and no pip; stage 04's has both.",
    hint="Dockerfile: the runtime stage installs python3.13 alone (--no-install-recommends); "
    "pip stays in the build stage (`venv --without-pip`, installed with --python).",
)
def no_build_tools(ctx: LessonContext) -> Result:
    found = inside(ctx.docker, _built(ctx).tag, TOOLS_SCRIPT)
    before = inside(ctx.docker, STAGE_04, TOOLS_SCRIPT) if ctx.docker.image.exists(STAGE_04) else {}
    return Result.expect(
        not found and "gcc" in before,  # type: ignore[operator]
        f"stage 05: {', '.join(found) or 'none'}; stage 04: {', '.join(before) or 'none'}",  # type: ignore[arg-type]
    )


CACHE_SCRIPT = f"""
import json, os
sizes = {{}}
for path in {CACHES!r}:
    sizes[path] = sum(os.lstat(os.path.join(r, f)).st_size
                      for r, _, fs in os.walk(path) for f in fs)
print(json.dumps(sizes))
"""


@LESSON.claim(
    "Package downloads stay in cache mounts: no apt lists, .debs or pip cache in the image.",
    hint="RUN --mount=type=cache,target=/var/cache/apt (and /var/lib/apt/lists, "
    "/root/.cache/pip): the cache is kept by the builder for the next build, not in a layer.",
)
def no_caches(ctx: LessonContext) -> Result:
    sizes = inside(ctx.docker, _built(ctx).tag, CACHE_SCRIPT)
    kept = {p: s for p, s in sizes.items() if s}  # type: ignore[union-attr]
    return Result.expect(
        not kept,
        ", ".join(f"{p}: {s} bytes" for p, s in sizes.items()),  # type: ignore[union-attr]
    )


# What the image needs from the folder: the Dockerfile copies these and nothing else.
NEEDED = {"pyproject.toml", "README.md", "requirements", "app"}


def build_context(docker: DockerClient, root: Path) -> list[Path]:
    """The files the builder receives from `root` after .dockerignore: a scratch build
    that copies the whole context, exported to a folder, listed."""
    with tempfile.TemporaryDirectory(prefix="driftwood-context-") as tmp:
        dockerfile = Path(tmp) / "Dockerfile"  # outside the context: not sent, not ignored
        dockerfile.write_text("FROM scratch\nCOPY . /\n")
        out = Path(tmp) / "out"
        docker.buildx.build(
            root, file=dockerfile, output={"type": "local", "dest": str(out)}, progress=False
        )
        return [p.relative_to(out) for p in out.rglob("*") if p.is_file()]


def folder_files(root: Path) -> list[Path]:
    return [p.relative_to(root) for p in root.rglob("*") if p.is_file()]


@LESSON.claim(
    "The .dockerignore allow-list sends the builder only what the image needs.",
    hint=".dockerignore: `*` first, then `!` for each path the Dockerfile copies; list what "
    "gets through with a scratch build: `FROM scratch` + `COPY . /`, `--output type=local`.",
)
def small_context(ctx: LessonContext) -> Result:
    sent = build_context(ctx.docker, ctx.root)
    everything = folder_files(ctx.root)
    extra = sorted({p.parts[0] for p in sent} - NEEDED)
    sent_kb = sum((ctx.root / p).stat().st_size for p in sent) / 1e3
    all_kb = sum((ctx.root / p).stat().st_size for p in everything) / 1e3
    return Result.expect(
        bool(sent) and not extra,
        f"sent {len(sent)} files ({sent_kb:.0f} kB) of the folder's {len(everything)} "
        f"({all_kb:.0f} kB); outside what the image needs: {', '.join(extra) or 'nothing'}",
        context_files=len(sent),
        context_kb=round(sent_kb),
        folder_files=len(everything),
    )


@dataclass(frozen=True)
class CleanBuild:
    run: BuildRun
    archive: Path
    canary: bytes


def canary_secret(folder: Path) -> tuple[Path, bytes]:
    """The host CA bundle plus a random comment line (OpenSSL ignores text between
    certificates): if any layer held the secret, it would hold this line."""
    canary = f"driftwood-canary-{secrets.token_hex(12)}".encode()
    bundle = host_ca_bundle()
    path = folder / "ca-with-canary.pem"
    path.write_bytes((bundle.read_bytes() if bundle else b"") + b"\n# " + canary + b"\n")
    return path, canary


def clean_build(ctx: LessonContext, folder: Path, name: str, source: SourceVersion) -> CleanBuild:
    secret, canary = canary_secret(folder)
    archive = folder / f"{name}.tar"
    run = build(
        ctx.docker,
        ctx.root,
        "Dockerfile",
        name,
        target=TARGET,
        cache=False,
        secret=secret,
        source=source,
        # An OCI archive: with `rewrite-timestamp` every file's time becomes
        # SOURCE_DATE_EPOCH (Engine 26 refuses the option when loading into its store).
        output={"type": "oci", "dest": str(archive), "rewrite-timestamp": "true"},
    )
    return CleanBuild(run, archive, canary)


def _clean_builds(ctx: LessonContext) -> tuple[BuildRun, BuildRun]:
    return ctx.once("ch05.clean", lambda: _two_clean_builds(ctx))


def _two_clean_builds(ctx: LessonContext) -> tuple[BuildRun, BuildRun]:
    folder = Path(tempfile.mkdtemp(prefix="driftwood-ch05-"))
    ctx.memo["ch05.folder"] = folder
    # One commit for both: SOURCE_DATE_EPOCH and the labels come from it, and a commit
    # landing between the two builds would otherwise change every rewritten timestamp.
    source = source_version(ctx.root)
    first, second = (clean_build(ctx, folder, f"clean-{n}", source) for n in (1, 2))
    ctx.memo["ch05.archives"] = (first, second)
    return first.run, second.run


def blobs(archive: Path) -> dict[str, bytes]:
    """Every blob of an OCI archive (layers decompressed), by digest."""
    out = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("blobs/"):
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                out[member.name.rsplit("/", 1)[-1]] = (
                    gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
                )
    return out


@LESSON.claim(
    "The build secret is in no layer, no config and no history of the image.",
    hint="RUN --mount=type=secret,id=ca: the file exists only during that RUN. Never COPY a "
    "secret, never pass one as ARG or ENV (both are recorded in the image).",
)
def secret_in_no_layer(ctx: LessonContext) -> Result:
    _clean_builds(ctx)
    first, _ = ctx.memo["ch05.archives"]
    contents = blobs(first.archive)
    found = [digest[:12] for digest, data in contents.items() if first.canary in data]
    used = any("PIP_CERT=/run/secrets/ca" in name for name in first.run.steps)
    return Result.expect(
        used and not found,
        f"secret mounted by {'a' if used else 'no'} step; canary found in "
        f"{', '.join(found) or 'no blob'} of {len(contents)} blobs",
    )


def layers(archive: Path) -> list[bytes]:
    """The image's layers in order (index -> manifest -> layers), decompressed."""
    contents = blobs(archive)

    def document(digest: str) -> dict[str, Any]:
        return json.loads(contents[digest.removeprefix("sha256:")])

    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    manifest = document(index["manifests"][0]["digest"])
    return [contents[layer["digest"].removeprefix("sha256:")] for layer in manifest["layers"]]


FIELDS = ("mode", "uid", "gid", "mtime", "size", "content")


def _listing(layer: bytes) -> dict[str, tuple[object, ...]]:
    """Path -> (mode, uid, gid, mtime, size, content hash) of every entry of one layer."""
    listing = {}
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        for member in tar.getmembers():
            file = tar.extractfile(member) if member.isfile() else None
            content = hashlib.sha256(file.read() if file else b"").hexdigest()
            listing[member.name] = (
                member.mode,
                member.uid,
                member.gid,
                member.mtime,
                member.size,
                content,
            )
    return listing


def differing_files(first: Path, second: Path, limit: int = 5) -> list[str]:
    """`layer N: path (what differs)` for entries that differ between the two images."""
    one, two = layers(first), layers(second)
    if len(one) != len(two):
        return [f"{len(one)} layers vs {len(two)}"]
    found = []
    for number, (a, b) in enumerate(zip(one, two, strict=True), start=1):
        if a == b:
            continue
        left, right = _listing(a), _listing(b)
        for path in sorted(left.keys() | right.keys()):
            x, y = left.get(path), right.get(path)
            if x is None or y is None:
                found.append(f"layer {number}: {path} (only in build {1 if y is None else 2})")
            elif x != y:
                what = [f for f, u, v in zip(FIELDS, x, y, strict=True) if u != v]
                found.append(f"layer {number}: {path} ({', '.join(what)})")
    return found[:limit]


@LESSON.claim(
    "Two clean builds of the same commit give the same image digest.",
    hint="SOURCE_DATE_EPOCH (the commit time) for the config and history, rewrite-timestamp "
    "for the files' times, hash-based .pyc, and no logs or caches written at build time.",
)
def reproducible(ctx: LessonContext) -> Result:
    try:
        first, second = _clean_builds(ctx)
        same = first.digest is not None and first.digest == second.digest
        reason = ""
        if not same:
            one, two = ctx.memo["ch05.archives"]
            reason = f"; differing files: {', '.join(differing_files(one.archive, two.archive))}"
    finally:  # the last claim: the archives are no longer needed
        shutil.rmtree(ctx.memo.pop("ch05.folder"), ignore_errors=True)
    return Result.expect(
        same,
        f"{first.digest} ({first.seconds:.0f} s) and {second.digest} ({second.seconds:.0f} s)"
        + reason,
        clean_build_s=first.seconds,
        same_digest=same,
    )
