"""Bench: Driftwood's image and stack next to the `docker init` baseline (bench/baseline/).

For each of the two it measures, on this host (linux/amd64):
  - image size: uncompressed (the engine's figure) and compressed (the layers as stored in
    the local registry, what a pull downloads);
  - cold build (no layer cache; BuildKit's download cache mounts are kept, so packages are
    not fetched again), rebuild after a code-only change, rebuild after a dependency change
    (the lock file edited): all in a throwaway copy of the committed tree;
  - time from `up` to serving (Driftwood: every service healthy; the baseline has no
    healthchecks: its first 200 on /healthz);
  - requests per second with p50/p99 latency, with wrk in a separate process, for the
    bookmark list and a search, for one user with BOOKMARKS bookmarks: through nginx for
    Driftwood (production layering), straight to gunicorn for the baseline (it has no proxy).
Driftwood only, on request: --multiarch times a linux/amd64 + linux/arm64 build pushed as one
index (arm64 under QEMU), --repro compares the digests of two clean builds.

Run: .venv/bin/python bench/image_stack.py [--multiarch] [--repro]
     (writes bench/results/image_stack.{json,md})
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops import load  # noqa: E402
from ops.build import build_args, build_stage, change_for_rebuild  # noqa: E402
from ops.ca import host_ca_bundle  # noqa: E402
from ops.push import LOCAL_REGISTRY, platform_sizes  # noqa: E402
from ops.secrets import ensure_secrets  # noqa: E402
from ops.stack import Stack, down, prepare, stack_variables, up  # noqa: E402
from ops.stages import Stage, load_stage  # noqa: E402
from ops.version import source_version  # noqa: E402
from ops.webclient import import_bookmarks, netscape_file, sign_up  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BASELINE_DIR = ROOT / "bench" / "baseline"
BOOKMARKS = 2000
WRK_SECONDS = 15
WRK_CONNECTIONS = 16
NAMES = ("driftwood", "baseline")
PASSWORD = "bench-password-123"  # noqa: S105 (a throwaway account in a throwaway stack)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def committed_tree(destination: Path) -> None:
    """The committed tree (git archive): what a clean checkout builds, no local files."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryFile() as buffer:
        buffer.write(archive)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            tar.extractall(destination, filter="data")


def uncompressed_bytes(docker: DockerClient, image: str) -> int:
    """The image's files as one tar (what it occupies unpacked); the engine's own size figure
    is the compressed one with the containerd image store."""
    container = docker.container.create(image)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "rootfs.tar"
            docker.container.export(container, archive)
            return archive.stat().st_size
    finally:
        docker.container.remove(container)


def measure_builds(docker: DockerClient, stage: Stage, work: Path) -> dict[str, Any]:
    """Cold build, code-only rebuild, dependency rebuild, then sizes; in a copy of the tree."""
    source = source_version(ROOT)
    dockerfile = work / stage.dockerfile.relative_to(ROOT)
    stage = dataclasses.replace(stage, dockerfile=dockerfile, context=work)

    def build(kind: str, **options: Any) -> Any:
        return build_stage(docker, stage, source, show=lambda _: None, kind=kind, **options)

    cold = build("cold", cache=False)
    change_for_rebuild(work / "app/driftwood/__init__.py")
    code = build("rebuild")
    change_for_rebuild(work / "requirements/app.lock", "a lock change, to time the rebuild")
    deps = build("deps")
    pushed = build("push", push_to=f"{LOCAL_REGISTRY}/driftwood-bench/{stage.name}")
    repository = f"driftwood-bench/{stage.name}"
    compressed = sum(platform_sizes(LOCAL_REGISTRY, repository, pushed.digest).values())
    return {
        "image": cold.image,
        "uncompressed_mb": round(uncompressed_bytes(docker, cold.image) / 1e6, 1),
        "compressed_mb": round(compressed / 1e6, 1),
        "layers": cold.layers,
        "cold_build_s": round(cold.seconds, 1),
        "code_rebuild_s": round(code.seconds, 1),
        "deps_rebuild_s": round(deps.seconds, 1),
    }


def measure_multiarch(docker: DockerClient, stage: Stage, work: Path) -> dict[str, Any]:
    stage = dataclasses.replace(stage, context=work, dockerfile=work / "Dockerfile")
    record = build_stage(
        docker, stage, source_version(ROOT), show=lambda _: None, kind="multiarch",
        platforms=["linux/amd64", "linux/arm64"],
        push_to=f"{LOCAL_REGISTRY}/driftwood-bench/multiarch",
    )  # fmt: skip
    sizes = platform_sizes(LOCAL_REGISTRY, "driftwood-bench/multiarch", record.digest)
    return {
        "multiarch_build_s": round(record.seconds, 1),
        "compressed_mb_by_platform": {p: round(b / 1e6, 1) for p, b in sizes.items()},
    }


def measure_reproducibility(docker: DockerClient, work: Path) -> dict[str, Any]:
    """Two clean builds of one commit: SOURCE_DATE_EPOCH is the commit time, and the exporter
    rewrites every file's time to it (rewrite-timestamp, BuildKit 0.13+). The engine's own
    image store refuses that option (it conflicts with unpacking), so each build is written
    as an OCI archive and the manifest digests are compared."""
    ca = host_ca_bundle()
    digests = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in (1, 2):
            metadata = Path(tmp) / f"metadata-{run}.json"
            docker.buildx.build(
                work, target="app", cache=False, provenance=False, metadata_file=metadata,
                build_args=build_args(docker, source_version(ROOT), {}),
                secrets=[f"id=ca,src={ca}"] if ca else [],
                output={
                    "type": "oci", "dest": str(Path(tmp) / f"image-{run}.tar"),
                    "rewrite-timestamp": "true",
                },
            )  # fmt: skip
            digests.append(json.loads(metadata.read_text())["containerimage.digest"])
    return {"repro_digests": digests, "reproducible": digests[0] == digests[1]}


def wait_for(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def seed(base: str) -> str:
    """Sign up, import BOOKMARKS bookmarks; return the session cookie header."""
    browser = sign_up(base, "bench", PASSWORD)
    import_bookmarks(browser, netscape_file(BOOKMARKS))
    return browser.cookie_header()


def wrk(url: str, cookie: str) -> dict[str, Any]:
    """wrk in its own process (ops.load): requests/s and latency percentiles."""
    return dataclasses.asdict(
        load.run(url, cookie=cookie, connections=WRK_CONNECTIONS, seconds=WRK_SECONDS)
    )


def load_pages(base: str, cookie: str) -> dict[str, Any]:
    return {"list": wrk(base, cookie), "search": wrk(base + "?q=containers+%23docker", cookie)}


def measure_driftwood_stack(docker: DockerClient) -> dict[str, Any]:
    port = free_port()
    stack = Stack(
        ROOT,
        prod=True,
        project=f"driftwood-bench-{uuid.uuid4().hex[:6]}",
        overrides=(("DRIFTWOOD_HTTP_PORT", str(free_port())), ("DRIFTWOOD_HTTPS_PORT", str(port)),
                   ("DRIFTWOOD_TAG", "bench"), ("DRIFTWOOD_SIGNUP_ENABLED", "true")),
    )  # fmt: skip
    prepare(stack, docker)
    started = time.monotonic()
    try:
        up(stack)
        healthy = time.monotonic() - started
        # wrk over TLS against the self-signed certificate: it does not verify certificates.
        base = f"https://127.0.0.1:{port}/"
        return {"up_to_healthy_s": round(healthy, 1), **load_pages(base, seed(base))}
    finally:
        down(stack, volumes=True)


def measure_baseline_stack(docker: DockerClient) -> dict[str, Any]:
    port = free_port()
    project = f"driftwood-bench-baseline-{uuid.uuid4().hex[:6]}"
    env = ROOT / ".cache" / f"{project}.env"
    secrets = ROOT / ".cache" / project
    ensure_secrets(secrets)
    values = stack_variables(docker, ROOT) | {
        "BASELINE_PORT": str(port),
        "BASELINE_SECRETS": str(secrets),
    }
    env.parent.mkdir(exist_ok=True)
    env.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    client = DockerClient(
        compose_files=[BASELINE_DIR / "compose.yaml"],
        compose_project_name=project,
        compose_env_files=[env],
    )
    client.compose.build()
    started = time.monotonic()
    try:
        client.compose.up(detach=True, wait=True, quiet=True)
        wait_for(f"http://127.0.0.1:{port}/healthz")
        serving = time.monotonic() - started
        client.compose.run(
            "server", ["python", "-c", "from driftwood.cli import main; main(['migrate'])"],
            remove=True, tty=False, workdir="/app/app",
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}/"
        return {"up_to_healthy_s": round(serving, 1), **load_pages(base, seed(base))}
    finally:
        client.compose.down(volumes=True)
        env.unlink()
        subprocess.run(["rm", "-rf", str(secrets)], check=True)


def markdown(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        ("Image size, uncompressed (MB)", "uncompressed_mb"),
        ("Image size, compressed in the registry (MB)", "compressed_mb"),
        ("Layers", "layers"),
        ("Cold build (s)", "cold_build_s"),
        ("Rebuild after a code change (s)", "code_rebuild_s"),
        ("Rebuild after a dependency change (s)", "deps_rebuild_s"),
        ("`up` to all healthy / serving (s)", "up_to_healthy_s"),
        ("Build for amd64 + arm64, pushed as one index (s; --multiarch)", "multiarch_build_s"),
        ("Two clean builds, same digest (--repro)", "reproducible"),
    ]
    lines = ["| | Driftwood | docker init baseline |", "|---|---:|---:|"]
    for label, key in rows:
        cells = [str(results[name].get(key, "-")) for name in NAMES]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    for page in ("list", "search"):
        for metric in ("rps", "p50_ms", "p99_ms", "errors"):
            cells = [
                str(results[n].get(page, {}).get(metric, "-")) for n in ("driftwood", "baseline")
            ]
            lines.append(f"| {page}: {metric} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiarch", action="store_true", help="also time amd64+arm64")
    parser.add_argument("--repro", action="store_true", help="also compare two clean builds")
    options = parser.parse_args()
    docker = DockerClient()
    final = load_stage(ROOT / "stage.toml")
    baseline = dataclasses.replace(
        final, name="baseline", dockerfile=BASELINE_DIR / "Dockerfile", target=None,
        image="driftwood-baseline",
    )  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    for name, stage in (("driftwood", final), ("baseline", baseline)):
        with tempfile.TemporaryDirectory(prefix="driftwood-bench-") as work:
            committed_tree(Path(work))
            results[name] = measure_builds(docker, stage, Path(work))
        print(name, results[name], flush=True)
    extras: list[Callable[[Path], dict[str, Any]]] = []
    if options.multiarch:
        extras.append(lambda work: measure_multiarch(docker, final, work))
    if options.repro:
        extras.append(lambda work: measure_reproducibility(docker, work))
    for extra in extras:
        with tempfile.TemporaryDirectory(prefix="driftwood-bench-") as work:
            committed_tree(Path(work))
            results["driftwood"] |= extra(Path(work))
        print(results["driftwood"], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = RESULTS / "image_stack.json"
    # Saved after each phase: a later failure keeps what was measured.
    record.write_text(json.dumps(results, indent=2) + "\n")
    results["driftwood"] |= measure_driftwood_stack(docker)
    record.write_text(json.dumps(results, indent=2) + "\n")
    results["baseline"] |= measure_baseline_stack(docker)
    record.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "image_stack.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
