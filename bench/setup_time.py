"""Bench: how long `invoke setup` takes, and how big each base image stand-in is.

Times `invoke setup` as a user runs it (a fresh process each run). On a bare machine the
first run is the cold figure (engine install, base image seeding); every later run is the
"nothing to do" figure (target: under 10 s). Then, for each base image in
deploy/base-images.yaml: the stand-in's size (as the engine reports it; compressed per
platform as stored in the local registry, what a pull downloads) next to the official
image's published size.

Run: .venv/bin/python bench/setup_time.py [--runs N] [--label cold|warm]
Appends to bench/results/setup_time.json and rewrites bench/results/setup_time.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from python_on_whales import DockerClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops import registry  # noqa: E402
from ops.baseimages import load_lock  # noqa: E402
from ops.standins import STANDIN_LABEL  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Published compressed sizes of the official images (no registry is reachable here to
# measure them). Where a figure is for a nearby tag, the note says so.
OFFICIAL = {
    "debian:trixie-slim": (
        "28.4 MB amd64, 28.8 MB arm64",
        "base layer `debian.sh --arch ... trixie` of an nginx:1.29.3 image as listed on"
        " hub.docker.com/layers/windoac/nginx-npm/1.29.3 (Oct 2025 build)",
    ),
    "nginx:1.30-trixie": (
        "57.0 MB amd64, 55.6 MB arm64 (1.29.3-trixie)",
        "same Docker Hub layer listing (image total minus its 8 KB of own layers)",
    ),
    "postgres:17-trixie": (
        "~80 MB (Debian-slim variants)",
        "tessl.io postgres reference, 91-docker-postgres.md",
    ),
    "python:3.13-slim-trixie": ("not found", "no published figure found by our search"),
}


def time_setup(label: str) -> dict[str, object]:
    """One `invoke setup`, its output passed through as it comes (a cold run takes minutes)."""
    started = time.monotonic()
    last = ""
    with subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "invoke"), "setup"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            last = line.strip() or last
    seconds = round(time.monotonic() - started, 1)
    print(f"invoke setup ({label}): {seconds} s, exit {process.returncode}: {last}")
    return {"label": label, "seconds": seconds, "exit": process.returncode, "said": last}


def registry_sizes(repository: str, tag: str) -> dict[str, int]:
    """Compressed bytes per platform: the sum of each platform manifest's layers."""
    _, index = registry.read_manifest(registry.ADDRESS, repository, tag)
    if "layers" in index:  # one platform: a plain manifest, not an index
        return {"amd64": sum(layer["size"] for layer in index["layers"])}
    sizes = {}
    for entry in index.get("manifests", []):
        platform = entry["platform"]["architecture"]
        _, manifest = registry.read_manifest(registry.ADDRESS, repository, entry["digest"])
        sizes[platform] = sum(layer["size"] for layer in manifest["layers"])
    return sizes


def image_sizes(docker: DockerClient) -> list[dict[str, object]]:
    rows = []
    for image in load_lock().values():
        if not docker.image.exists(image.ref):
            continue
        inspected = docker.image.inspect(image.ref)
        standin = inspected.config.labels.get(STANDIN_LABEL) == "true"
        compressed = registry_sizes(image.local_repository, image.tag) if standin else {}
        rows.append(
            {
                "ref": image.ref,
                "stand_in": standin,
                "version": inspected.config.labels.get("org.opencontainers.image.version"),
                "engine_mb": round(inspected.size / 1e6, 1),
                "compressed_mb": {arch: round(size / 1e6, 1) for arch, size in compressed.items()},
                "official": OFFICIAL[image.ref][0],
                "official_source": OFFICIAL[image.ref][1],
            }
        )
    return rows


def markdown(runs: list[dict[str, object]], sizes: list[dict[str, object]]) -> str:
    lines = ["# invoke setup", "", "| run | seconds | exit | last line |", "|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['seconds']} | {r['exit']} | {r['said']} |" for r in runs]
    lines += [
        "",
        "# Base images: stand-in vs official",
        "",
        "| image | stand-in version | engine size (amd64) | compressed | official (compressed) |",
        "|---|---|---|---|---|",
    ]
    for row in sizes:
        compressed = ", ".join(f"{mb} MB {arch}" for arch, mb in row["compressed_mb"].items())
        lines.append(
            f"| {row['ref']} | {row['version']} | {row['engine_mb']} MB | {compressed}"
            f" | {row['official']} |"
        )
    lines += ["", "Official sizes, sources:", ""]
    lines += [f"- {ref}: {source}" for ref, (_, source) in OFFICIAL.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="how many times to run setup")
    parser.add_argument("--label", default="warm", help="name of these runs (cold, warm)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    history = RESULTS / "setup_time.json"
    runs = json.loads(history.read_text())["runs"] if history.exists() else []
    runs += [time_setup(args.label) for _ in range(args.runs)]
    sizes = image_sizes(DockerClient())
    history.write_text(json.dumps({"runs": runs, "sizes": sizes}, indent=2) + "\n")
    (RESULTS / "setup_time.md").write_text(markdown(runs, sizes))
    print(markdown(runs, sizes))


if __name__ == "__main__":
    main()
