"""Push a stage to a registry as one multi-arch OCI index, then tag it.

Tags an engineer can copy: `0.1.0` and `0.1` (the project's semantic version), `git-<sha>`
(`-dirty` when the tree had uncommitted changes), `stage-NN`, and `latest` only on request.
The digest is the one reference that never moves; it is recorded and printed.

Order matters: the build pushes the whole index under the most specific tag (`git-<sha>`),
which the registry sets only once every platform's image has arrived; the other tags are
added afterwards as copies of that digest. A failed push leaves no tag pointing at
anything partial.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient

from ops.build import build_stage
from ops.registry import ADDRESS, RegistryError, call, read_manifest
from ops.stages import Stage
from ops.version import SEMVER, SourceVersion

LOCAL_REGISTRY = ADDRESS


def compute_tags(source: SourceVersion, stage: Stage, latest: bool = False) -> list[str]:
    match = SEMVER.fullmatch(source.version)
    if not match:
        raise ValueError(f"{source.version!r} is not a semantic version")
    tags = [source.version]
    if not match[4]:  # a pre-release never moves the `major.minor` tag
        tags.append(f"{match[1]}.{match[2]}")
    tags += [f"git-{source.short_commit}", stage.tag]
    if latest:
        tags.append("latest")
    return tags


def split_reference(reference: str) -> tuple[str, str, str]:
    """`127.0.0.1:5000/driftwood:stage-12` -> (registry, repository, tag or digest)."""
    registry, _, rest = reference.partition("/")
    if "@" in rest:
        repository, _, ref = rest.partition("@")
    else:
        repository, _, ref = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return registry, repository, ref


def require_registry(address: str) -> None:
    try:
        call(address, "")
    except RegistryError as exc:
        if exc.status != 401:  # 401 means it is there and wants a login
            raise


def resolve_digest(reference: str) -> str:
    """The digest a tag points at right now (a digest reference returns its own digest)."""
    address, repository, ref = split_reference(reference)
    if ref.startswith("sha256:"):
        return ref
    _, headers = call(address, f"{repository}/manifests/{ref}", method="HEAD")
    digest = headers.get("docker-content-digest")
    if not digest:
        raise RegistryError(f"{address} gave no digest for {reference}")
    return digest


def index_platforms(manifest: dict[str, Any], digest: str) -> dict[str, str]:
    """{"linux/arm64": digest of that platform's manifest} for an index; a single-platform
    manifest (no `manifests` list) is its own only entry, under "?/?"."""
    entries = manifest.get("manifests") or [{"digest": digest, "platform": {}}]
    platforms = {}
    for entry in entries:
        platform = entry.get("platform") or {}
        # BuildKit stores attestations as manifests for platform unknown/unknown.
        if platform.get("os") == "unknown":
            continue
        name = f"{platform.get('os', '?')}/{platform.get('architecture', '?')}"
        if platform.get("variant"):
            name += f"/{platform['variant']}"
        platforms[name] = entry["digest"]
    return platforms


def platform_sizes(address: str, repository: str, digest: str) -> dict[str, int]:
    """Compressed size (config plus layers, as pulled) of each platform in an index."""
    _, index = read_manifest(address, repository, digest)
    sizes = {}
    for name, entry in index_platforms(index, digest).items():
        _, manifest = read_manifest(address, repository, entry)
        sizes[name] = manifest["config"]["size"] + sum(x["size"] for x in manifest["layers"])
    return sizes


@dataclass
class PushRecord:
    stage: str
    repository: str
    digest: str
    tags: list[str]
    platforms: dict[str, int]  # platform -> compressed bytes
    provenance: bool
    seconds: float

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.digest}"

    def save(self, reports: Path) -> Path:
        path = reports / self.stage / "push.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**asdict(self), "reference": self.reference}, indent=2) + "\n")
        return path


def push_stage(
    docker: DockerClient,
    stage: Stage,
    source: SourceVersion,
    *,
    show: Callable[[str], None],
    registry: str = LOCAL_REGISTRY,
    latest: bool = False,
    platforms: list[str] | None = None,
    provenance: bool = True,
    extra_args: dict[str, str] | None = None,
) -> PushRecord:
    require_registry(registry)
    repository = f"{registry}/{stage.image}"
    tags = compute_tags(source, stage, latest)
    first = f"git-{source.short_commit}"
    built = build_stage(
        docker,
        stage,
        source,
        show=show,
        platforms=platforms or list(stage.platforms),
        extra_args=extra_args,
        push_to=f"{repository}:{first}",
        provenance=provenance,
    )
    if not built.digest:
        raise RegistryError(f"the build pushed to {repository} but reported no digest")
    # The index is complete in the registry; now the other tags. A single source makes
    # imagetools copy the index as is, so every tag names exactly this digest.
    docker.buildx.imagetools.create(
        sources=[f"{repository}@{built.digest}"],
        tags=[f"{repository}:{tag}" for tag in tags if tag != first],
    )
    for tag in tags:
        if resolve_digest(f"{repository}:{tag}") != built.digest:
            raise RegistryError(f"{repository}:{tag} does not point at {built.digest}")
    registry_host, repo_path, _ = split_reference(f"{repository}:x")
    return PushRecord(
        stage=stage.name,
        repository=repository,
        digest=built.digest,
        tags=tags,
        platforms=platform_sizes(registry_host, repo_path, built.digest),
        provenance=provenance,
        seconds=built.seconds,
    )
