"""The lesson framework: claims run in order, a broken claim fails alone, output and record."""

import json
from pathlib import Path

import pytest

from ops import lessons
from ops.lessons import Lesson, LessonContext, LessonError, Result


def make_lesson() -> Lesson:
    lesson = Lesson(chapter=99, title="Test lesson")

    @lesson.claim("One plus one is two.", hint="arithmetic")
    def holds(ctx: LessonContext) -> Result:
        total = ctx.once("sum", lambda: 1 + 1)
        return Result.expect(total == 2, f"1 + 1 = {total}", total=total)

    @lesson.claim("The sky is green.", hint="look up")
    def fails(ctx: LessonContext) -> Result:
        return Result.expect(False, "it is blue")

    @lesson.claim("A broken check fails alone.", hint="the traceback")
    def breaks(ctx: LessonContext) -> Result:
        raise RuntimeError("engine went away")

    return lesson


def context(tmp_path: Path) -> LessonContext:
    return LessonContext(docker=None, root=tmp_path)  # type: ignore[arg-type]


def test_claims_run_in_order_and_a_broken_one_fails_alone(tmp_path: Path) -> None:
    seen: list[str] = []
    outcomes = lessons.run(make_lesson(), context(tmp_path), lambda o: seen.append(o.claim))
    assert [o.passed for o in outcomes] == [True, False, False]
    assert seen == [o.claim for o in outcomes]
    assert outcomes[0].measured == {"total": 2}
    assert outcomes[2].observed == "error: RuntimeError: engine went away"
    assert lessons.summary(outcomes) == "1/3 claims hold, 2 failed"


def test_output_shows_the_hint_only_for_failures(tmp_path: Path) -> None:
    passed, failed, _ = lessons.run(make_lesson(), context(tmp_path))
    assert lessons.format_outcome(passed).splitlines() == [
        "PASS  One plus one is two.",
        "      observed: 1 + 1 = 2",
    ]
    assert lessons.format_outcome(failed).splitlines()[-1] == "      look at:  look up"


def test_memo_measures_once(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    calls: list[int] = []
    assert ctx.once("k", lambda: calls.append(1) or 5) == 5
    assert ctx.once("k", lambda: calls.append(1) or 6) == 5
    assert calls == [1]


def test_save_records_each_claim(tmp_path: Path) -> None:
    lesson = make_lesson()
    path = lessons.save(lesson, lessons.run(lesson, context(tmp_path)), tmp_path / "r" / "l.json")
    data = json.loads(path.read_text())
    assert data["chapter"] == 99
    assert data["passed"] is False
    assert data["claims"][0]["measured"] == {"total": 2}


def test_load_names_the_missing_module() -> None:
    with pytest.raises(LessonError, match=r"add ops/lessons/ch98\.py"):
        lessons.load(98)
