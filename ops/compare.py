"""Compare stages side by side: size, layers, build times, hardening, findings, signing.

Everything comes from what the other tasks recorded under reports/<stage>/ (build, cold
and rebuild timings, scan, push, sign) plus the stage's own declarations, so the report
is cheap to regenerate; `measure` records the two build timings it needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException
from rich.table import Table

from ops.build import build_stage, change_for_rebuild
from ops.stack import read_env_file
from ops.stages import Stage
from ops.version import SourceVersion

SEVERITY_ORDER = ("critical", "high", "medium", "low")
# `${NAME:?message}` or `${NAME?message}`: compose will not load the file without NAME.
REQUIRED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")
PLACEHOLDER = "placeholder-for-compare"


@dataclass
class StageRow:
    stage: str
    number: int
    size_mb: float | None  # unpacked
    compressed_mb: float | None  # as pushed, for the first (amd64) platform
    layers: int | None
    cold_s: float | None
    rebuild_s: float | None
    user: str | None
    root: bool | None
    read_only: str
    capabilities: str
    healthcheck: bool | None
    findings: dict[str, int] | None
    scan_ok: bool | None
    signed: bool
    platforms: list[str]


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def hardening(services: dict[str, Any]) -> tuple[str, str]:
    """Read-only and capability settings across a compose project's long-running services."""
    running = {n: s for n, s in services.items() if s.get("restart") != "no"}
    if not running:
        return "-", "-"
    read_only = sum(bool(s.get("read_only")) for s in running.values())
    dropped = sum("ALL" in (s.get("cap_drop") or []) for s in running.values())
    added = sorted({c for s in running.values() for c in s.get("cap_add") or []})
    caps = f"drop ALL {dropped}/{len(running)}" + (f", add {','.join(added)}" if added else "")
    return f"{read_only}/{len(running)}", caps


def placeholders(compose_texts: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """A stand-in value for each variable the compose files require (`${NAME:?message}`,
    `${NAME?message}`) that `known` (the environment, the stage's .env) does not set."""
    required = {name for text in compose_texts for name in REQUIRED.findall(text)}
    return dict.fromkeys(sorted(required - set(known)), PLACEHOLDER)


def compose_services(stage: Stage) -> dict[str, Any]:
    """The merged compose model (compose itself merges the files); {} when it cannot.

    Some variables exist only when the stage runs (its secrets; chapter 09's verified
    digest, which `invoke stage.up 9` sets), and compose refuses to load files that require
    them. None of them decides what this report reads (read-only, capabilities, restart),
    so each one unset gets a placeholder for this one read.
    """
    files = list(stage.compose_files)
    settings = stage.root / ".env"  # what compose reads by default, kept ahead of ours
    known = set(os.environ) | set(read_env_file(settings) if settings.is_file() else {})
    missing = placeholders((path.read_text() for path in files if path.is_file()), known)
    with tempfile.TemporaryDirectory(prefix="driftwood-compare-") as tmp:
        stand_ins = Path(tmp) / "placeholders.env"
        stand_ins.write_text("".join(f"{name}={value}\n" for name, value in missing.items()))
        client = DockerClient(
            compose_files=files,
            compose_project_directory=stage.root,
            compose_env_files=[p for p in (settings, stand_ins) if p.is_file()],
        )
        try:
            return client.compose.config(return_json=True)["services"]  # type: ignore[index]
        except (DockerException, KeyError, TypeError):
            return {}


def collect(stage: Stage, reports: Path, services: dict[str, Any] | None) -> StageRow:
    folder = reports / stage.name
    build, cold, rebuild = (_read(folder / f) for f in ("build.json", "cold.json", "rebuild.json"))
    scan, push, sign = (_read(folder / f) for f in ("scan.json", "push.json", "sign.json"))
    if not stage.builds:  # nothing of its own to harden (the app runs on the host)
        read_only, caps = "-", "-"
    elif stage.compose_files:
        read_only, caps = hardening(services or {})
    else:
        read_only = "yes" if stage.run.read_only else "no"
        caps = "drop " + ",".join(stage.run.cap_drop) if stage.run.cap_drop else "default"
    user = build.get("user") if build else None
    pushed = push.get("platforms") if push else {}
    return StageRow(
        stage=stage.name,
        number=stage.number,
        size_mb=_uncompressed_mb(build, scan),
        compressed_mb=round(next(iter(pushed.values())) / 1e6, 1) if pushed else None,
        layers=build.get("layers") if build else None,
        cold_s=cold["seconds"] if cold else None,
        rebuild_s=rebuild["seconds"] if rebuild else None,
        user=user,
        root=None if user is None else user in {"", "root", "0", "0:0", "root:root"},
        read_only=read_only,
        capabilities=caps,
        healthcheck=build.get("healthcheck") if build else None,
        findings=scan["severity_counts"] if scan else None,
        scan_ok=scan["ok"] if scan else None,
        signed=bool(sign and push and sign.get("digest") == push.get("digest")),
        platforms=sorted(pushed) if pushed else list(stage.platforms),
    )


def _uncompressed_mb(build: dict[str, Any] | None, scan: dict[str, Any] | None) -> float | None:
    """dive's unpacked size when scanned; else what the engine reports (with the containerd
    image store, that is the compressed content size)."""
    size = ((scan or {}).get("dive") or {}).get("size_bytes") or (build or {}).get("size_bytes")
    return round(size / 1e6, 1) if size else None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return " ".join(f"{k[0].upper()}{value.get(k, 0)}" for k in SEVERITY_ORDER)
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


COLUMNS = {
    "stage": "Stage",
    "size_mb": "Size MB",
    "compressed_mb": "Compressed MB",
    "layers": "Layers",
    "cold_s": "Cold build s",
    "rebuild_s": "Rebuild s",
    "root": "Root",
    "read_only": "Read-only",
    "capabilities": "Capabilities",
    "healthcheck": "Healthcheck",
    "findings": "Findings C/H/M/L",
    "scan_ok": "Scan as declared",
    "signed": "Signed",
    "platforms": "Platforms",
}


def table(rows: list[StageRow]) -> Table:
    out = Table(title="Driftwood stages compared")
    for title in COLUMNS.values():
        out.add_column(title)
    for row in rows:
        out.add_row(*(_cell(getattr(row, key)) for key in COLUMNS))
    return out


def markdown(rows: list[StageRow], charts: list[Path]) -> str:
    lines = [
        "# Driftwood stages compared",
        "",
        "Generated by `invoke report.compare` from reports/<stage>/ (`-` = not measured yet:",
        "run `image.build`, `report.compare --measure`, `image.scan`, `image.push`, `image.sign`).",
        "",
        "| " + " | ".join(COLUMNS.values()) + " |",
        "| " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    lines += ["| " + " | ".join(_cell(getattr(r, k)) for k in COLUMNS) + " |" for r in rows]
    lines += [""] + [f"![{chart.stem}]({chart.name})" for chart in charts]
    return "\n".join(lines) + "\n"


def charts(rows: list[StageRow], directory: Path) -> list[Path]:
    """Two bar charts a learner can look at: image size, and build times, per stage."""
    import matplotlib  # imported here: only the report needs it, and it is slow to import

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    names = [r.stage for r in rows]
    positions = range(len(rows))
    outputs = []
    for filename, title, unit, series in (
        (
            "sizes.png",
            "Image size per stage",
            "MB",
            {
                "uncompressed": [r.size_mb for r in rows],
                "compressed (pushed)": [r.compressed_mb for r in rows],
            },
        ),
        (
            "build-times.png",
            "Build time per stage",
            "seconds",
            {
                "cold (no cache)": [r.cold_s for r in rows],
                "rebuild after a code change": [r.rebuild_s for r in rows],
            },
        ),
    ):
        figure, axes = plt.subplots(figsize=(max(5, 1.6 * len(rows) + 2), 4))
        width = 0.8 / len(series)
        for index, (label, values) in enumerate(series.items()):
            xs = [p + index * width for p in positions]
            bars = axes.bar(xs, [v or 0 for v in values], width, label=label)
            axes.bar_label(bars, labels=[_cell(v) for v in values], fontsize=8)
        axes.set_xticks([p + width * (len(series) - 1) / 2 for p in positions], names)
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.legend()
        figure.tight_layout()
        path = directory / filename
        figure.savefig(path, dpi=100)
        plt.close(figure)
        outputs.append(path)
    return outputs


def write_report(rows: list[StageRow], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    images = charts(rows, directory)
    report = directory / "report.md"
    report.write_text(markdown(rows, images))
    data = directory / "report.json"
    data.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return [report, data, *images]


def copy_context(stage: Stage, destination: Path) -> None:
    """The stage's build context, copied: in the repository's own tree, the files git would
    hand over (tracked and untracked-but-not-ignored: no caches, no secrets); a chapter's
    stage, assembled under .cache/ (which git ignores), whole, as it holds nothing else."""
    inside = subprocess.run(["git", "check-ignore", "-q", "."], cwd=stage.context, check=False)
    if inside.returncode != 1:  # 0: an ignored folder (an assembled stage); 128: no git tree
        shutil.copytree(stage.context, destination, symlinks=True, dirs_exist_ok=True)
        return
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=stage.context,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = stage.context / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def measure(
    docker: DockerClient,
    stage: Stage,
    source: SourceVersion,
    reports: Path,
    show: Callable[[str], None],
) -> tuple[float, float]:
    """Record a cold build (no cache) and a rebuild after a one-line code change.

    The change is made in a throwaway copy of the build context, never in the tree.
    """
    cold = build_stage(docker, stage, source, show=show, cache=False, kind="cold")
    cold.save(reports)
    if stage.code_change is None:
        raise ValueError(f"{stage.manifest}: set code_change to time a rebuild")
    with tempfile.TemporaryDirectory(prefix="driftwood-rebuild-") as tmp:
        copy = Path(tmp)
        copy_context(stage, copy)
        changed = copy / stage.code_change.relative_to(stage.context)
        change_for_rebuild(changed)
        rebuild = build_stage(docker, stage, source, show=show, context=copy, kind="rebuild")
    rebuild.save(reports)
    return cold.seconds, rebuild.seconds
