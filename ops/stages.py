"""Stages: each runnable state of Driftwood, declared by a small `stage.toml` manifest.

The repository root is the final stage; every chapter under `chapters/NN-slug/` adds its
own manifest. Tasks only ever see a `Stage`, so a chapter plugs in by adding a file.

A manifest (paths are relative to the manifest's folder):

    name = "final"
    number = 12
    kind = "build"                  # optional: "host" (no image: the app runs on the host) or
                                    # "stock" (stock images run by hand, nothing built);
                                    # only "build" stages need dockerfile, context,
                                    # image, platforms and size_budget_mb
    title = "Production image"
    dockerfile = "Dockerfile"
    context = "."
    target = "runtime"              # optional build stage
    compose = ["compose.yaml", "compose.prod.yaml"]   # optional; else one container
    image = "driftwood"
    platforms = ["linux/amd64", "linux/arm64"]
    size_budget_mb = 150
    structure_test = "deploy/structure-tests/final.yaml"   # optional
    code_change = "app/driftwood/__init__.py"   # file touched to time a code-only rebuild

    [run]                 # how `stage.run` reaches it
    service = "web"       # compose service that publishes the port (compose stages)
    port = 8000           # container port (single-container stages publish it on the host)
    url = "http://127.0.0.1:8000/"
    read_only = true      # single-container stages: read-only root, /tmp a tmpfs
    cap_drop = ["ALL"]

    [expect]              # what each check is *expected* to do: "pass" or "fail"
    "policy.non_root" = "pass"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ops import chapters

MANIFEST = "stage.toml"
Outcome = Literal["pass", "fail"]
Kind = Literal["build", "host", "stock"]
KINDS: tuple[Kind, ...] = ("build", "host", "stock")

# Every check a stage can declare an expectation for; the scanner reports exactly these.
CHECKS: dict[str, str] = {
    "hadolint": "Dockerfile lint (hadolint)",
    "structure": "container-structure-test",
    "policy.non_root": "runs as a non-root user",
    "policy.healthcheck": "declares a HEALTHCHECK",
    "policy.no_secret_env": "no secrets in ENV",
    "policy.no_secret_labels": "no secrets in labels",
    "policy.no_secret_history": "no secrets in the build history",
    "policy.no_setuid": "no setuid/setgid files",
    "policy.no_world_writable": "no world-writable paths outside tmp",
    "policy.base_pinned": "every base image pinned by digest",
    "policy.oci_labels": "OCI labels present",
    "policy.size_budget": "image size within the stage's budget",
    "secrets.layers": "no secrets in any layer (detect-secrets)",
    "efficiency": "layer efficiency (dive)",
    "sbom": "SBOM lists Debian and Python packages",
    "vulns": "no critical or high vulnerabilities (trivy/grype)",
}


class StageError(Exception):
    """A manifest that cannot be used; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class RunSpec:
    service: str | None = None
    port: int = 8000
    url: str = "http://127.0.0.1:8000/"
    # Single-container stages: how hardened `stage.run` starts it (compose stages say so
    # in their compose files).
    read_only: bool = False
    cap_drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    name: str
    number: int
    title: str
    manifest: Path
    dockerfile: Path | None  # None for stages without an image of their own (kind != "build")
    context: Path | None
    image: str
    platforms: tuple[str, ...]
    size_budget_mb: int
    target: str | None = None
    compose_files: tuple[Path, ...] = ()
    structure_test: Path | None = None
    code_change: Path | None = None
    run: RunSpec = field(default_factory=RunSpec)
    expect: dict[str, Outcome] = field(default_factory=dict)
    kind: Kind = "build"

    @property
    def builds(self) -> bool:
        """Whether the stage has an image of its own to build, scan and push."""
        return self.kind == "build"

    @property
    def root(self) -> Path:
        return self.manifest.parent

    @property
    def tag(self) -> str:
        """The stage's own tag, `stage-NN`, zero-padded like the chapter folders."""
        return f"stage-{self.number:02d}"


def load_stage(manifest: Path) -> Stage:
    """Parse one `stage.toml` into a `Stage`, or raise StageError naming file and field."""
    try:
        data = tomllib.loads(manifest.read_text())
    except FileNotFoundError as exc:
        raise StageError(f"{manifest}: no such manifest") from exc
    except tomllib.TOMLDecodeError as exc:
        raise StageError(f"{manifest}: not valid TOML: {exc}") from exc
    fields = _Fields(manifest, data)
    root = manifest.parent
    run = fields.table("run")
    run_fields = _Fields(manifest, run, prefix="run.")
    kind = fields.str("kind", required=False) or "build"
    if kind not in KINDS:
        raise StageError(f"{manifest}: field kind must be one of {', '.join(KINDS)}")
    builds = kind == "build"
    return Stage(
        name=fields.str("name"),
        number=fields.int("number"),
        title=fields.str("title"),
        manifest=manifest,
        dockerfile=fields.path("dockerfile", root, must_exist=builds, required=builds),
        context=fields.path("context", root, must_exist=builds, required=builds),
        image=fields.str("image", required=builds) or "",
        platforms=tuple(fields.str_list("platforms", required=builds)),
        size_budget_mb=fields.int("size_budget_mb", required=builds) or 0,
        target=fields.str("target", required=False),
        compose_files=tuple(root / p for p in fields.str_list("compose", required=False)),
        structure_test=fields.path("structure_test", root, required=False),
        code_change=fields.path("code_change", root, required=False),
        run=RunSpec(
            service=run_fields.str("service", required=False),
            port=run_fields.int("port", required=False) or 8000,
            url=run_fields.str("url", required=False) or "http://127.0.0.1:8000/",
            read_only=run_fields.bool("read_only"),
            cap_drop=tuple(run_fields.str_list("cap_drop", required=False)),
        ),
        expect=_expectations(manifest, fields.table("expect")),
        kind=kind,
    )


def discover(project_root: Path) -> list[Stage]:
    """All stages in order: the chapters by number, then the final stage at the root.

    With a course manifest (chapters/chapters.toml), each built chapter's stage is
    assembled by ops.chapters and its manifest read there (its paths are relative to the
    stage's root); without one, chapters/*/stage.toml are read in place.
    """
    if (project_root / chapters.COURSE).exists():
        try:
            manifests = chapters.stage_manifests(project_root)
        except chapters.ChapterError as exc:
            raise StageError(str(exc)) from exc
    else:
        manifests = sorted((project_root / "chapters").glob(f"*/{MANIFEST}"))
    final = project_root / MANIFEST
    if final.exists():
        manifests.append(final)
    stages = sorted((load_stage(m) for m in manifests), key=lambda s: s.number)
    seen: dict[str, Path] = {}
    for stage in stages:
        if stage.name in seen:
            raise StageError(
                f"{stage.manifest}: name {stage.name!r} is already used by {seen[stage.name]}"
            )
        seen[stage.name] = stage.manifest
    return stages


def find_stage(project_root: Path, name: str | None) -> Stage:
    """The stage called `name` (or numbered `name`), or the final stage when `name` is None."""
    stages = discover(project_root)
    if not stages:
        raise StageError(f"no {MANIFEST} under {project_root}: add one for the final stage")
    if name is None:
        return stages[-1]
    for stage in stages:
        if name in {stage.name, str(stage.number), f"{stage.number:02d}"}:
            return stage
    known = ", ".join(s.name for s in stages)
    raise StageError(f"unknown stage {name!r}: choose one of {known} (`invoke stage.list`)")


def _expectations(manifest: Path, table: dict[str, Any]) -> dict[str, Outcome]:
    expect: dict[str, Outcome] = {}
    for check, outcome in table.items():
        if check not in CHECKS:
            raise StageError(
                f"{manifest}: expect.{check}: unknown check; known checks: {', '.join(CHECKS)}"
            )
        if outcome not in ("pass", "fail"):
            raise StageError(f'{manifest}: expect.{check}: must be "pass" or "fail"')
        expect[check] = outcome
    return expect


@dataclass
class _Fields:
    """Typed access to a TOML table with errors that name the file and the field."""

    manifest: Path
    data: dict[str, Any]
    prefix: str = ""

    def _get(self, key: str, kind: type | tuple[type, ...], required: bool) -> Any:
        if key not in self.data:
            if required:
                raise StageError(f"{self.manifest}: missing required field {self.prefix}{key}")
            return None
        value = self.data[key]
        # bool is an int in Python; a manifest saying `number = true` is a mistake.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise StageError(
                f"{self.manifest}: field {self.prefix}{key} must be a {name}, "
                f"not {type(value).__name__}"
            )
        return value

    def str(self, key: str, required: bool = True) -> Any:
        return self._get(key, str, required)

    def int(self, key: str, required: bool = True) -> Any:
        return self._get(key, int, required)

    def bool(self, key: str) -> Any:
        return bool(self._get(key, bool, required=False))

    def table(self, key: str) -> dict[str, Any]:
        return self._get(key, dict, required=False) or {}

    def str_list(self, key: str, required: bool = True) -> list[Any]:
        values = self._get(key, list, required) or []
        if not all(isinstance(v, str) for v in values):
            raise StageError(f"{self.manifest}: field {self.prefix}{key} must list strings")
        if required and not values:
            raise StageError(f"{self.manifest}: field {self.prefix}{key} must not be empty")
        return values

    def path(self, key: str, root: Path, must_exist: bool = False, required: bool = True) -> Any:
        value = self.str(key, required=required and must_exist)
        if value is None:
            return None
        path = (root / value).resolve()
        if must_exist and not path.exists():
            raise StageError(f"{self.manifest}: field {self.prefix}{key}: {path} does not exist")
        return path
