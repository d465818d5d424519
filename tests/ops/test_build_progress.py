"""The one-line-per-step view, fed with BuildKit plain progress recorded from this engine."""

from pathlib import Path

from ops.build import Progress, change_for_rebuild

LOGS = Path(__file__).resolve().parents[1] / "data" / "buildkit"


def condense(name: str) -> tuple[Progress, list[str]]:
    progress = Progress()
    shown = [line for raw in (LOGS / name).read_text().splitlines() if (line := progress.feed(raw))]
    return progress, shown


def test_one_line_per_finished_step_without_internal_steps() -> None:
    progress, shown = condense("ok.log")
    assert shown == [
        "    0.0s  [base 1/1] COPY a.txt /a.txt",
        "    0.0s  [stage-1 1/1] COPY a.txt /b.txt",
        "    0.2s  exporting to image",
    ]
    assert (progress.steps, progress.cached, progress.failed) == (3, 0, [])


def test_cached_and_failed_steps_are_named() -> None:
    progress, shown = condense("failed.log")
    assert shown[0] == "  cached  [1/2] COPY a.txt /a.txt"
    assert shown[1].startswith("  FAILED  [2/2] COPY missing.txt /m: failed to calculate")
    assert progress.failed == ["[2/2] COPY missing.txt /m"]
    assert progress.cached == 1


def test_a_change_for_rebuild_never_repeats_an_earlier_one(tmp_path: Path) -> None:
    """Same file, same change twice: the contents must differ, or the second run's "changed"
    build is a cache hit on the first run's layer (it was, in CI, on a re-run of one commit)."""
    seen = set()
    for _ in range(2):
        code = tmp_path / "code.py"
        code.write_text("print('hi')\n")
        change_for_rebuild(code)
        text = code.read_text()
        assert text.startswith("print('hi')\n") and text.count("\n") == 3
        seen.add(text)
    assert len(seen) == 2
