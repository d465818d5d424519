"""A chapter's lesson as executable checks: each claim is one sentence the chapter makes,
a function that measures it against the learner's running stage, and what to look at when
it does not hold.

A chapter module `ops/lessons/chNN.py` declares `LESSON`:

    LESSON = Lesson(chapter=3, title="Running containers")

    @LESSON.claim(
        "The exec form stops cleanly on SIGTERM in under a second.",
        hint="CMD/ENTRYPOINT in exec form (a JSON list): the app must be PID 1.",
    )
    def exec_form_stops_fast(ctx: LessonContext) -> Result:
        seconds, code = ...
        return Result.expect(code == 0 and seconds < 1, f"exit {code} after {seconds:.2f} s",
                             stop_s=seconds, exit_code=code)

`invoke stage.check N` runs every claim in order and prints PASS/FAIL, what was observed,
and the hint for each failure; the stage tests in tests/stages/ run the same claims, so the
lesson and its tests cannot drift apart. A claim that raises fails with the error as its
observation: one broken claim never hides the others.

Chapters whose stage `ops.runstage` cannot start (the app on the host, or stock images run
by hand) give the lesson `up`/`down` functions; `invoke stage.up N` uses them.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient

Measured = float | int | str | bool


class LessonError(Exception):
    """No lesson for that chapter, or one that cannot be loaded; the message says the fix."""


@dataclass(frozen=True)
class Result:
    """What a claim's check found: pass or fail, the observation in words, and numbers."""

    passed: bool
    observed: str
    measured: dict[str, Measured] = field(default_factory=dict)

    @classmethod
    def expect(cls, condition: bool, observed: str, **measured: Measured) -> Result:
        return cls(bool(condition), observed, measured)


@dataclass
class LessonContext:
    """What every check receives: the engine, the stage's tree, and a per-run memo so
    claims that read the same expensive measurement (a timed stop, a build) share it."""

    docker: DockerClient
    root: Path
    memo: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, measure: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = measure()
        return self.memo[key]


Check = Callable[[LessonContext], Result]
StageHook = Callable[[LessonContext], str]


@dataclass(frozen=True)
class Claim:
    text: str  # one sentence, as the chapter's README states it
    check: Check
    hint: str  # what to look at when it fails


@dataclass
class Lesson:
    chapter: int
    title: str
    claims: list[Claim] = field(default_factory=list)
    # For stages ops.runstage cannot start: bring the stage up (return its URL) and down.
    up: StageHook | None = None
    down: StageHook | None = None

    def claim(self, text: str, *, hint: str) -> Callable[[Check], Check]:
        """Decorator: register `check` as the next claim of this lesson."""

        def register(check: Check) -> Check:
            self.claims.append(Claim(text, check, hint))
            return check

        return register


@dataclass(frozen=True)
class Outcome:
    claim: str
    passed: bool
    observed: str
    hint: str
    seconds: float
    measured: dict[str, Measured]


def load(chapter: int) -> Lesson:
    """The lesson of chapter `chapter` (module ops.lessons.chNN, attribute LESSON)."""
    name = f"{__name__}.ch{chapter:02d}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise LessonError(
            f"chapter {chapter:02d} has no lesson checks yet: add ops/lessons/ch{chapter:02d}.py "
            "declaring LESSON (see ops/lessons/__init__.py)"
        ) from exc
    lesson = getattr(module, "LESSON", None)
    if not isinstance(lesson, Lesson) or not lesson.claims:
        raise LessonError(f"{name} must declare LESSON = Lesson(...) with at least one claim")
    return lesson


def run(
    lesson: Lesson,
    ctx: LessonContext,
    report: Callable[[Outcome], None] | None = None,
    only: str = "",
) -> list[Outcome]:
    """Check every claim in order (or those whose check's name contains `only`); `report`
    sees each outcome as soon as it is known."""
    outcomes = []
    for claim in lesson.claims:
        if only not in claim.check.__name__:
            continue
        started = time.monotonic()
        try:
            result = claim.check(ctx)
        except Exception as exc:  # a broken claim is a failed claim, reported as such
            result = Result(False, f"error: {type(exc).__name__}: {exc}".strip())
        outcome = Outcome(
            claim=claim.text,
            passed=result.passed,
            observed=result.observed,
            hint=claim.hint,
            seconds=round(time.monotonic() - started, 2),
            measured=result.measured,
        )
        outcomes.append(outcome)
        if report:
            report(outcome)
    return outcomes


def format_outcome(outcome: Outcome) -> str:
    """`PASS claim` / `FAIL claim`, then what was observed, then (failures) where to look."""
    lines = [f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.claim}"]
    lines.append(f"      observed: {outcome.observed}")
    if not outcome.passed:
        lines.append(f"      look at:  {outcome.hint}")
    return "\n".join(lines)


def summary(outcomes: Iterable[Outcome]) -> str:
    outcomes = list(outcomes)
    failed = sum(not o.passed for o in outcomes)
    return f"{len(outcomes) - failed}/{len(outcomes)} claims hold" + (
        f", {failed} failed" if failed else ""
    )


def save(lesson: Lesson, outcomes: list[Outcome], path: Path) -> Path:
    """Record the run (reports/<stage>/lesson.json) for the README's measured numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "chapter": lesson.chapter,
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "title": lesson.title,
        "passed": all(o.passed for o in outcomes),
        "claims": [asdict(o) for o in outcomes],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
