"""Stage assembly, materialising, the deterministic tag chain, checkout and diff, on a
throwaway git repository (no engine needed)."""

import subprocess
from pathlib import Path

import pytest

from ops import chapters
from ops.chapters import ChapterError
from ops.stages import discover

COURSE = """
[[chapter]]
number = 1
slug = "one"
title = "One"

[[chapter]]
number = 2
slug = "two"
title = "Two"

[[chapter]]
number = 3
slug = "three"
title = "Three"
built = false
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "main"
    write(
        root,
        {
            "README.md": "final readme\n",
            "Dockerfile": "FROM final\n",
            "app/code.py": "print('app')\n",
            "deploy/nginx.conf": "final nginx\n",
            "chapters/chapters.toml": COURSE,
            "chapters/README.md": "the chapters\n",
            "chapters/01-one/README.md": "chapter one\n",
            "chapters/01-one/stage.toml": (
                'name = "01-one"\nnumber = 1\ntitle = "One"\nkind = "host"\n'
                'remove = ["Dockerfile", "deploy"]\n'
            ),
            "chapters/02-two/README.md": "chapter two\n",
            "chapters/02-two/stage.toml": (
                'name = "02-two"\nnumber = 2\ntitle = "Two"\ndockerfile = "Dockerfile"\n'
                'context = "."\nimage = "two"\nplatforms = ["linux/amd64"]\nsize_budget_mb = 9\n'
            ),
            "chapters/02-two/files/Dockerfile": "FROM naive\n",
        },
    )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return root


def test_course_is_ordered_and_unbuilt_chapters_are_skipped(repo: Path) -> None:
    course = chapters.load_course(repo)
    assert [c.tag for c in course] == ["stage-01-one", "stage-02-two", "stage-03-three"]
    assert [c.number for c in chapters.built(repo)] == [1, 2]
    assert chapters.find(repo, "02").slug == "two"
    assert chapters.find(repo, "01-one").number == 1
    with pytest.raises(ChapterError, match="not built yet"):
        chapters.find(repo, 3)
    with pytest.raises(ChapterError, match="unknown chapter 'nine': choose one of 01-one, 02-two"):
        chapters.find(repo, "nine")


def test_course_out_of_order_is_refused(repo: Path) -> None:
    (repo / "chapters/chapters.toml").write_text(COURSE.replace("number = 2", "number = 5"))
    with pytest.raises(ChapterError, match="chapter #2 is numbered 5"):
        chapters.load_course(repo)


def test_materialised_stage_is_base_plus_overlay_minus_removed(repo: Path) -> None:
    one = chapters.materialise(repo, chapters.find(repo, 1))
    assert one == repo / ".cache/stages/01-one"
    assert (one / "README.md").read_text() == "chapter one\n"
    assert "kind" in (one / "stage.toml").read_text()
    assert (one / "app/code.py").exists()
    assert not (one / "Dockerfile").exists()
    assert not (one / "deploy").exists()
    assert not (one / "chapters/01-one").exists()
    assert (one / "chapters/chapters.toml").exists()
    two = chapters.materialise(repo, chapters.find(repo, 2))
    assert (two / "Dockerfile").read_text() == "FROM naive\n"
    assert (two / "deploy/nginx.conf").exists()


def test_resync_removes_only_what_it_wrote(repo: Path) -> None:
    chapter = chapters.find(repo, 2)
    stage = chapters.materialise(repo, chapter)
    (stage / "data.db").write_text("made by a container")
    (repo / "chapters/02-two/files/Dockerfile").unlink()
    (repo / "app/code.py").write_text("print('edited')\n")
    chapters.materialise(repo, chapter)
    assert (stage / "Dockerfile").read_text() == "FROM final\n"  # back to the base's
    assert (stage / "app/code.py").read_text() == "print('edited')\n"  # working tree counts
    assert (stage / "data.db").exists()


def test_tag_chain_is_deterministic_and_checkable(repo: Path) -> None:
    first = chapters.stage_commits(repo)
    assert first == chapters.stage_commits(repo)
    assert chapters.stale_tags(repo, first) == ["stage-01-one: missing", "stage-02-two: missing"]
    chapters.write_tags(repo, first)
    assert chapters.stale_tags(repo, first) == []
    (_, one), (_, two) = first
    assert git(repo, "rev-parse", f"{two}^").strip() == one
    assert git(repo, "log", "-1", "--format=%an %aI", one).strip() == (
        "Driftwood course 2026-01-01T01:00:00+00:00"
    )
    assert git(repo, "show", "stage-02-two:README.md") == "chapter two\n"
    assert git(repo, "status", "--porcelain") == ""  # the user's index is untouched
    # A change on main makes the tags stale, and only then.
    (repo / "app/code.py").write_text("print('v2')\n")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "v2")
    assert chapters.stale_tags(repo, chapters.stage_commits(repo)) == [
        "stage-01-one: stale",
        "stage-02-two: stale",
    ]


def test_checkout_makes_a_worktree_outside_the_tree(repo: Path, tmp_path: Path) -> None:
    dest = chapters.checkout(repo, 1, tmp_path / "stages" / "01")
    assert (dest / "README.md").read_text() == "chapter one\n"
    assert not (dest / "Dockerfile").exists()
    assert (repo / "Dockerfile").exists()  # the user's tree is untouched
    assert chapters.stage_root(dest, 1) == (chapters.find(repo, 1), dest)
    with pytest.raises(ChapterError, match="already exists"):
        chapters.checkout(repo, 1, dest)
    with pytest.raises(ChapterError, match="inside"):
        chapters.checkout(repo, 2, repo / "sub")


def test_diff_is_file_by_file(repo: Path) -> None:
    assert sorted(chapters.diff(repo, 1, 2).splitlines()) == [
        "A\tDockerfile",
        "A\tdeploy/nginx.conf",
        "M\tREADME.md",
        "M\tstage.toml",
    ]


def test_discovery_reads_chapter_manifests_from_the_assembled_stage(repo: Path) -> None:
    stages = discover(repo)
    assert [(s.name, s.kind) for s in stages] == [("01-one", "host"), ("02-two", "build")]
    host, built = stages
    assert host.dockerfile is None
    assert not host.builds
    assert built.dockerfile == repo / ".cache/stages/02-two/Dockerfile"


def test_later_stages_inherit_earlier_overlays_unless_removed(repo: Path) -> None:
    write(
        repo,
        {
            "chapters/01-one/files/notes.txt": "written in chapter one\n",
            "chapters/01-one/files/lesson-only.txt": "chapter one's exercise\n",
        },
    )
    manifest = repo / "chapters/02-two/stage.toml"
    manifest.write_text(manifest.read_text() + 'remove = ["lesson-only.txt"]\n')
    two = chapters.materialise(repo, chapters.find(repo, 2))
    assert (two / "notes.txt").read_text() == "written in chapter one\n"
    assert not (two / "lesson-only.txt").exists()
    assert (two / "Dockerfile").read_text() == "FROM naive\n"  # chapter two's own wins


def test_the_root_chapter_is_the_repository_itself(repo: Path) -> None:
    course = repo / "chapters/chapters.toml"
    course.write_text(COURSE.replace("built = false", "root = true"))
    write(
        repo,
        {
            "chapters/03-three/README.md": "chapter three\n",
            "stage.toml": 'name = "final"\nnumber = 3\ntitle = "Final"\nkind = "host"\n',
        },
    )
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "root chapter")
    three = chapters.find(repo, 3)
    assert chapters.stage_root(repo, 3) == (three, repo)
    _, (_, two), (_, final) = chapters.stage_commits(repo)
    assert git(repo, "rev-parse", f"{final}^{{tree}}") == git(repo, "rev-parse", "HEAD^{tree}")
    assert git(repo, "rev-parse", f"{final}^").strip() == two
    assert [s.name for s in discover(repo)] == ["01-one", "02-two", "final"]
    course.write_text(COURSE.replace('slug = "one"', 'slug = "one"\nroot = true'))
    with pytest.raises(ChapterError, match="only the last chapter can be the repository root"):
        chapters.load_course(repo)


def test_restore_takes_the_root_file_back_from_earlier_overlays(repo: Path) -> None:
    course = repo / "chapters/chapters.toml"
    course.write_text(COURSE.replace("built = false", ""))
    write(
        repo,
        {
            "chapters/01-one/files/deploy/nginx.conf": "chapter one's nginx\n",
            "chapters/03-three/README.md": "chapter three\n",
            "chapters/03-three/stage.toml": (
                'name = "03-three"\nnumber = 3\ntitle = "Three"\nkind = "host"\n'
                'restore = ["Dockerfile", "deploy"]\n'
            ),
        },
    )
    three = chapters.materialise(repo, chapters.find(repo, 3))
    assert (three / "Dockerfile").read_text() == "FROM final\n"  # not chapter two's
    assert (three / "deploy/nginx.conf").read_text() == "final nginx\n"  # not chapter one's
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "restore")
    *_, (_, tagged) = chapters.stage_commits(repo)
    assert git(repo, "show", f"{tagged}:Dockerfile") == "FROM final\n"
    manifest = repo / "chapters/03-three/stage.toml"
    manifest.write_text(manifest.read_text().replace('"deploy"', '"nowhere"'))
    with pytest.raises(ChapterError, match="restore lists nowhere, which the repository root"):
        chapters.materialise(repo, chapters.find(repo, 3))
