"""The stage comparison from recorded reports: table cells, Markdown, PNG charts."""

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from ops.compare import (
    PLACEHOLDER,
    charts,
    collect,
    compose_services,
    copy_context,
    hardening,
    markdown,
    placeholders,
    table,
)
from ops.stages import load_stage
from tests.conftest import require

DATA = Path(__file__).resolve().parents[1] / "data"
CHAPTERS = Path(__file__).resolve().parents[2] / "chapters"


def record(reports: Path, stage: str, name: str, data: dict) -> None:
    (reports / stage).mkdir(parents=True, exist_ok=True)
    (reports / stage / name).write_text(json.dumps(data))


def test_hardening_counts_long_running_services_only() -> None:
    services = {
        "app": {"read_only": True, "cap_drop": ["ALL"]},
        "nginx": {"read_only": True, "cap_drop": ["ALL"], "cap_add": ["NET_BIND_SERVICE"]},
        "db": {"cap_drop": ["ALL"], "cap_add": ["CHOWN", "SETUID"]},
        "migrate": {"restart": "no"},
    }
    assert hardening(services) == ("2/3", "drop ALL 3/3, add CHOWN,NET_BIND_SERVICE,SETUID")
    assert hardening({}) == ("-", "-")


def test_collect_from_recorded_reports(tmp_path: Path) -> None:
    stage = load_stage(DATA / "good-image" / "stage.toml")
    record(
        tmp_path,
        "good",
        "build.json",
        {
            "size_bytes": 151_234_567,
            "layers": 7,
            "user": "10001:10001",
            "healthcheck": True,
        },
    )
    record(tmp_path, "good", "cold.json", {"seconds": 41.5})
    record(tmp_path, "good", "rebuild.json", {"seconds": 3.2})
    record(
        tmp_path,
        "good",
        "scan.json",
        {
            "ok": True,
            "severity_counts": {"critical": 0, "high": 1, "medium": 2, "low": 0},
        },
    )
    record(
        tmp_path,
        "good",
        "push.json",
        {
            "digest": "sha256:aa",
            "platforms": {"linux/amd64": 50_100_000, "linux/arm64": 49e6},
        },
    )
    record(tmp_path, "good", "sign.json", {"digest": "sha256:aa"})
    row = collect(stage, tmp_path, None)
    assert (row.size_mb, row.compressed_mb, row.layers) == (151.2, 50.1, 7)
    assert (row.cold_s, row.rebuild_s) == (41.5, 3.2)
    assert row.root is False
    assert (row.read_only, row.capabilities) == ("yes", "drop ALL")
    assert row.signed is True
    assert row.platforms == ["linux/amd64", "linux/arm64"]
    text = markdown([row], [])
    assert (
        "| good | 151.2 | 50.1 | 7 | 41.5 | 3.2 | no | yes | drop ALL | yes | C0 H1 M2 L0 |" in text
    )
    assert table([row]).row_count == 1


def test_nothing_recorded_yet_shows_dashes_and_a_re_signed_digest_is_not_signed(
    tmp_path: Path,
) -> None:
    stage = load_stage(DATA / "bad-image" / "stage.toml")
    record(tmp_path, "bad", "push.json", {"digest": "sha256:new", "platforms": {}})
    record(tmp_path, "bad", "sign.json", {"digest": "sha256:old"})
    row = collect(stage, tmp_path, None)
    assert row.size_mb is None and row.root is None
    assert row.signed is False
    assert "| bad | - | - | - |" in markdown([row], [])


def test_charts_are_png_files(tmp_path: Path) -> None:
    good = collect(load_stage(DATA / "good-image" / "stage.toml"), tmp_path, None)
    bad = collect(load_stage(DATA / "bad-image" / "stage.toml"), tmp_path, None)
    good.size_mb, good.cold_s = 120.0, 30.0
    paths = charts([bad, good], tmp_path)
    assert [p.name for p in paths] == ["sizes.png", "build-times.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_placeholders_stand_in_for_required_variables_only() -> None:
    text = (
        "image: ${APP_IMAGE:?run invoke stage.up 9}\n"
        "password: ${PASSWORD?}\n"
        "port: ${PORT:-8009}\n"  # a default: compose needs nothing
        "key: ${KEY:?set KEY in .env}\n"
    )
    assert placeholders([text], known={"KEY"}) == {
        "APP_IMAGE": PLACEHOLDER,
        "PASSWORD": PLACEHOLDER,
    }


def test_stage_09_compose_files_are_read_without_its_run_time_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chapter 08's compose.yaml with chapter 09's layer: the digest and the secrets exist
    only once `invoke stage.up 9` ran, and the report still reads the stack."""
    require(shutil.which("docker") is not None, "the docker CLI with compose is not installed")
    for name in ("DRIFTWOOD_APP_IMAGE", "POSTGRES_PASSWORD", "DRIFTWOOD_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(CHAPTERS / "08-compose/files/compose.yaml", tmp_path)
    shutil.copy(CHAPTERS / "09-registries/files/compose.registry.yaml", tmp_path)
    stage = replace(
        load_stage(DATA / "good-image" / "stage.toml"),
        manifest=tmp_path / "stage.toml",
        compose_files=(tmp_path / "compose.yaml", tmp_path / "compose.registry.yaml"),
    )
    services = compose_services(stage)
    assert sorted(services) == ["app", "db", "migrate", "nginx"]
    assert services["app"]["image"] == PLACEHOLDER and "build" not in services["app"]
    assert hardening(services) == ("0/3", "drop ALL 0/3")


def test_a_rebuild_copies_what_the_build_would_see(tmp_path: Path) -> None:
    """The repository: git's files, never what it ignores; an assembled chapter stage (under
    the ignored .cache/): all of it (git lists nothing there, which left the copy empty)."""
    repo = tmp_path / "repo"
    stage_dir = repo / ".cache" / "stages" / "05-building-well"
    (stage_dir / "app").mkdir(parents=True)
    (stage_dir / "app" / "main.py").write_text("print()\n")
    (repo / "app").mkdir()
    (repo / "app" / "main.py").write_text("print()\n")
    (repo / ".gitignore").write_text(".cache/\nsecrets/\n")
    (repo / "secrets").mkdir()
    (repo / "secrets" / "key.txt").write_text("s3cret\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    good = load_stage(DATA / "good-image" / "stage.toml")
    for context, expected in (
        (repo, {".gitignore", "app/main.py"}),
        (stage_dir, {"app/main.py"}),
    ):
        copy = tmp_path / f"copy-{len(context.parts)}"
        copy_context(replace(good, context=context), copy)
        assert {str(f.relative_to(copy)) for f in copy.rglob("*") if f.is_file()} == expected
