"""The stage comparison from recorded reports: table cells, Markdown, PNG charts."""

import json
from pathlib import Path

from ops.compare import charts, collect, hardening, markdown, table
from ops.stages import load_stage

DATA = Path(__file__).resolve().parents[1] / "data"


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
