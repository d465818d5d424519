"""Driftwood's tasks: a table of contents. Run `invoke --list`, then `invoke --help TASK`.

The logic lives in the `ops` package; each task here only parses options and calls it.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from invoke import Collection, Context, Exit, task
from python_on_whales import DockerClient

from ops import bootstrap, chapters, lessons

PROJECT_ROOT = Path(__file__).resolve().parent
T = TypeVar("T")


@task
def setup(c: Context) -> None:
    """Install and start what this host lacks: engine, buildx, compose, QEMU, registry."""
    the_plan = bootstrap.setup(DockerClient(), print)
    for item in the_plan.missing:
        print(f"missing: {item.what}; fix: {item.fix}")
    if the_plan.missing:
        raise Exit("setup could not complete this host; run the fixes above", code=1)


# --- chapter stages: tags, worktrees, diffs and each chapter's lesson as checks ----------


@task(name="tag", help={"check": "only verify the tags are current; exit 1 if not (CI)"})
def stage_tag(c: Context, check: bool = False) -> None:
    """Tag every built chapter stage as a chain of commits built from HEAD (deterministic)."""
    chain = _chapters(chapters.stage_commits, PROJECT_ROOT)
    stale = chapters.stale_tags(PROJECT_ROOT, chain)
    if check:
        if stale:
            raise Exit(
                "stage tags are not current: " + "; ".join(stale) + " (run invoke stage.tag)"
            )
        print(f"all {len(chain)} stage tags are current")
        return
    chapters.write_tags(PROJECT_ROOT, chain)
    for chapter, oid in chain:
        print(f"{chapter.tag} {oid[:12]}")


@task(
    name="checkout",
    help={"stage": "chapter number or slug", "path": "where (default ../driftwood-stages/NN-slug)"},
)
def stage_checkout(c: Context, stage: str, path: str = "") -> None:
    """Give stage N its own git worktree, outside this tree (yours is left untouched)."""
    dest = _chapters(chapters.checkout, PROJECT_ROOT, stage, Path(path) if path else None)
    print(f"stage {stage} is in {dest} (remove with: git worktree remove {dest})")


@task(
    name="diff",
    help={"a": "from stage (number)", "b": "to stage (number)", "patch": "show every line"},
)
def stage_diff(c: Context, a: str, b: str, patch: bool = False) -> None:
    """Show what changed from stage A to stage B, file by file."""
    print(_chapters(chapters.diff, PROJECT_ROOT, a, b, patch), end="")


@task(name="check", help={"stage": "chapter number or slug"})
def stage_check(c: Context, stage: str) -> None:
    """Run chapter N's lesson as checks against its running stage: PASS/FAIL per claim."""
    chapter, root = _chapters(chapters.stage_root, PROJECT_ROOT, stage)
    lesson = _chapters(lessons.load, chapter.number)
    print(f"Chapter {chapter.folder}: {lesson.title} ({root})")
    outcomes = lessons.run(
        lesson,
        lessons.LessonContext(DockerClient(), root),
        lambda o: print(lessons.format_outcome(o)),
    )
    lessons.save(lesson, outcomes, PROJECT_ROOT / "reports" / chapter.folder / "lesson.json")
    print(lessons.summary(outcomes))
    if not all(o.passed for o in outcomes):
        raise Exit(code=1)


@task(name="up", help={"stage": "chapter number or slug"})
def stage_up(c: Context, stage: str) -> None:
    """Start a chapter stage that runs without an image of its own (chapters 01-03)."""
    print(_lesson_hook(stage, "up"))


@task(name="down", help={"stage": "chapter number or slug"})
def stage_down(c: Context, stage: str) -> None:
    """Stop what `invoke stage.up N` started."""
    print(_lesson_hook(stage, "down"))


def _lesson_hook(stage: str, which: str) -> str:
    chapter, root = _chapters(chapters.stage_root, PROJECT_ROOT, stage)
    hook = getattr(_chapters(lessons.load, chapter.number), which)
    if hook is None:
        raise Exit(
            f"stage {chapter.folder} has its own image: use invoke stage.run {chapter.number}"
        )
    return hook(lessons.LessonContext(DockerClient(), root))


def _chapters(function: Callable[..., T], *args: Any) -> T:
    """Call into ops.chapters/ops.lessons, turning their errors into one clear message."""
    try:
        return function(*args)
    except (chapters.ChapterError, lessons.LessonError) as exc:
        raise Exit(str(exc)) from exc


stage_ns = Collection(
    "stage", stage_tag, stage_checkout, stage_diff, stage_check, stage_up, stage_down
)


ns = Collection(setup, stage_ns)
