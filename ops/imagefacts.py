"""Reading images (chapter 02): what an image is made of, why a tag moves and a digest does
not, and how candidate base images measure up against what Driftwood needs.

An image is a config (entrypoint, command, environment, user) plus an ordered list of
layers (tarballs of files); its history records the step that made each layer, and steps
that only change the config add no layer. A tag is a movable name for an image; a digest
is the hash of its content, so it can only ever name that content.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

# The runtime a Python app needs, and nothing else: the interpreter, the C library and the
# few libraries the stdlib's extensions load. No shell, no package manager, no pip.
RUNTIME_PACKAGES = (
    "base-files", "netbase", "ca-certificates", "libc6", "libgcc-s1", "zlib1g",
    "libssl3t64", "libffi8", "libexpat1", "libbz2-1.0", "liblzma5", "libzstd1",
    "libmpdec4", "libuuid1", "python3-minimal", "python3.13-minimal", "libpython3.13-minimal",
    "libpython3.13-stdlib",
)  # fmt: skip
# Run by the Python image's own interpreter: the files of those packages that are installed
# (dpkg -L lists folders too), each under its real path (merged /usr: /bin is a link to
# usr/bin, so /bin/x and /usr/bin/x are one file), plus the top-level links themselves,
# which every binary's loader path (/lib64/...) goes through.
ROOTFS_SCRIPT = """
import os, subprocess, sys, tarfile
files = set()
for package in sys.argv[1:]:
    listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    for path in listed.stdout.splitlines():
        real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if os.path.isfile(real) or os.path.islink(real):
            files.add(real)
with tarfile.open("/out/rootfs.tar", "w") as tar:
    for link in ("/bin", "/sbin", "/lib", "/lib64"):
        if os.path.islink(link):
            tar.add(link)
    for path in sorted(files):
        tar.add(path, recursive=False)
"""


@dataclass(frozen=True)
class Step:
    created_by: str
    size: int  # bytes the step added; 0 for config-only steps (ENV, CMD, ...)


@dataclass(frozen=True)
class ImageFacts:
    ref: str
    id: str
    digests: tuple[str, ...]
    size: int
    layers: int
    history: tuple[Step, ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    user: str
    env: tuple[str, ...]

    @property
    def steps_with_bytes(self) -> int:
        return sum(step.size > 0 for step in self.history)


def history(docker: DockerClient, ref: str) -> list[Step]:
    """`docker image history`, oldest step first (python-on-whales 0.81 does not wrap it)."""
    output = run(
        [*docker.image.docker_cmd, "image", "history", "--no-trunc", "--human=false",
         "--format", "{{json .}}", ref]
    )  # fmt: skip
    steps = []
    for line in reversed(str(output).splitlines()):
        entry = json.loads(line)
        steps.append(Step(entry["CreatedBy"], int(entry["Size"])))
    return steps


def describe(docker: DockerClient, ref: str) -> ImageFacts:
    image = docker.image.inspect(ref)
    config = image.config
    return ImageFacts(
        ref=ref,
        id=image.id,
        digests=tuple(image.repo_digests or ()),
        size=int(image.size or 0),
        layers=len(image.root_fs.layers or ()),
        history=tuple(history(docker, ref)),
        entrypoint=tuple(config.entrypoint or ()),
        cmd=tuple(config.cmd or ()),
        user=config.user or "",
        env=tuple(config.env or ()),
    )


def report(facts: ImageFacts) -> str:
    """The inspection as a learner reads it: identity, config, then the layers' history."""
    lines = [
        f"{facts.ref}",
        f"  id          {facts.id}",
        f"  digests     {', '.join(facts.digests) or '(none: never pushed or pulled)'}",
        f"  size        {facts.size / 1e6:.1f} MB in {facts.layers} layers",
        f"  entrypoint  {list(facts.entrypoint)}",
        f"  cmd         {list(facts.cmd)}",
        f"  user        {facts.user or '(root)'}",
        f"  env         {', '.join(facts.env)}",
        "  history (oldest first; size 0 = a config-only step)",
    ]
    lines += [f"    {step.size / 1e6:8.1f} MB  {step.created_by[:90]}" for step in facts.history]
    return "\n".join(lines)


@dataclass(frozen=True)
class TagMove:
    tag: str
    before: str  # the image id the tag named first
    after: str  # ... and after it was pointed at another image
    pinned: str  # the digest reference, still resolving to `pinned_id`
    pinned_id: str


def tag_moves(docker: DockerClient, first: str, second: str, tag: str) -> TagMove:
    """Point `tag` at `first`, then at `second`; the digest reference of `first` (a
    `name@sha256:` ref) keeps naming the first image. The demo tag is removed after."""
    for ref in (first, second):
        if not docker.image.exists(ref):
            docker.image.pull(ref, quiet=True)
    try:
        docker.image.tag(first, tag)
        before = docker.image.inspect(tag).id
        docker.image.tag(second, tag)
        after = docker.image.inspect(tag).id
    finally:
        docker.image.remove(tag, force=False, prune=False)
    return TagMove(tag, before, after, first, docker.image.inspect(first).id)


def distroless_style(docker: DockerClient, python_ref: str, tag: str) -> str:
    """An image holding only the Python runtime's files, copied out of the Python image's own
    packages (`dpkg -L`) and imported as a one-layer image: what "distroless" means."""
    with tempfile.TemporaryDirectory() as scratch:
        docker.run(
            python_ref,
            ["python3", "-c", ROOTFS_SCRIPT, *RUNTIME_PACKAGES],
            remove=True,
            volumes=[(scratch, "/out")],
        )
        docker.image.import_(
            Path(scratch) / "rootfs.tar",
            tag=tag,
            changes=['CMD ["/usr/bin/python3.13"]', "USER 65534:65534"],
        )
    return tag


@dataclass(frozen=True)
class BaseFit:
    ref: str
    size_mb: float
    python: str | None  # the interpreter's version, None when there is none
    shell: bool
    pip: bool
    apt: bool


def _runs(docker: DockerClient, ref: str, *argv: str) -> str | None:
    """Output of `argv` run in `ref` (no entrypoint), or None when it cannot run there."""
    # Through python-on-whales' runner to capture stderr: a missing program is an answer here.
    command = [*docker.container.docker_cmd, "run", "--rm", "--entrypoint", argv[0], ref]
    try:
        return str(run([*command, *argv[1:]], capture_stderr=True)).strip()
    except DockerException:
        return None


def fit(docker: DockerClient, ref: str) -> BaseFit:
    """What a base gives the app: Python 3 with TLS, a shell, pip, apt, and its size."""
    python = _runs(
        docker, ref, "/usr/bin/python3", "-c",
        "import ssl, json, platform; print(platform.python_version())",
    )  # fmt: skip
    return BaseFit(
        ref=ref,
        size_mb=round(docker.image.inspect(ref).size / 1e6, 1),
        python=python,
        shell=_runs(docker, ref, "/bin/sh", "-c", "echo yes") == "yes",
        pip=_runs(docker, ref, "/usr/bin/python3", "-m", "pip", "--version") is not None,
        apt=_runs(docker, ref, "/usr/bin/apt-get", "--version") is not None,
    )
