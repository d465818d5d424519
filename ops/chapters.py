"""The course's chapters and their stages: assemble, materialise, tag, check out, diff.

A stage is the repository's shared base (the app, its tests, the ops tooling) with the
chapters up to it laid over it:

    stage N = the repository, minus every chapters/NN-slug/ folder,
              plus chapters/KK-slug/files/** of every chapter K <= N, in order (a chapter's
              file replaces an earlier chapter's: each is written once, where it changes),
              with the paths listed in chapter N's `restore` taken from the repository root
              again (a stage that has caught up with the root's file, e.g. chapter 10 builds
              the production Dockerfile, not chapter 05's),
              minus the paths listed in chapter N's `remove` (root files the stage has not
              earned yet, e.g. chapter 01 has no Dockerfile, and earlier chapters' files it
              no longer has),
              plus chapters/NN-slug/README.md as README.md,
              plus chapters/NN-slug/stage.toml as stage.toml.

The last chapter is marked `root = true` in chapters.toml: its stage is the repository root
itself, the final production state, and its folder holds only the chapter's README.

The chapter's stage.toml therefore describes the stage as the learner sees it: its paths
are relative to the stage's root. From `main` the tooling materialises a stage under
.cache/stages/NN-slug/ (from the working tree, so local edits count) and reads it there;
`invoke stage.tag` builds the same trees from a commit with git plumbing, as a chain of
commits with fixed names and dates, so the same `main` always gives the same ids.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

CHAPTERS_DIR = "chapters"
COURSE = f"{CHAPTERS_DIR}/chapters.toml"
MANIFEST = "stage.toml"
CACHE = Path(".cache") / "stages"
# Recorded as the marker of a materialised tree: the files the tooling wrote, so a re-sync
# removes what the chapter no longer has without touching anything a container created.
MATERIALISED = ".materialised"
# Who and when the stage commits say they are from: fixed, so the ids depend only on content.
IDENTITY = {
    "GIT_AUTHOR_NAME": "Driftwood course",
    "GIT_AUTHOR_EMAIL": "course@driftwood.invalid",
    "GIT_COMMITTER_NAME": "Driftwood course",
    "GIT_COMMITTER_EMAIL": "course@driftwood.invalid",
}
T = TypeVar("T")
EPOCH = "2026-01-01T00:00:00+00:00"


class ChapterError(Exception):
    """A chapter that cannot be found or assembled; the message says the fix."""


@dataclass(frozen=True)
class Chapter:
    number: int
    slug: str
    title: str
    built: bool
    root: bool = False  # the stage is the repository root (the last chapter only)

    @property
    def folder(self) -> str:
        return f"{self.number:02d}-{self.slug}"

    @property
    def path(self) -> str:
        """The chapter's folder, relative to the repository root (git path syntax)."""
        return f"{CHAPTERS_DIR}/{self.folder}"

    @property
    def tag(self) -> str:
        return f"stage-{self.folder}"


def load_course(project_root: Path) -> list[Chapter]:
    """The ordered chapter list from chapters/chapters.toml, checked for gaps and repeats."""
    path = project_root / COURSE
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ChapterError(f"{path}: no course manifest") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ChapterError(f"{path}: not valid TOML: {exc}") from exc
    chapters = []
    for index, entry in enumerate(data.get("chapter", []), start=1):
        try:
            chapter = Chapter(
                number=int(entry["number"]),
                slug=str(entry["slug"]),
                title=str(entry["title"]),
                built=bool(entry.get("built", True)),
                root=bool(entry.get("root", False)),
            )
        except KeyError as exc:
            raise ChapterError(f"{path}: chapter #{index} lacks field {exc.args[0]}") from exc
        if chapter.number != index:
            raise ChapterError(
                f"{path}: chapter #{index} is numbered {chapter.number}: keep them in order"
            )
        chapters.append(chapter)
    if not chapters:
        raise ChapterError(f"{path}: lists no [[chapter]]")
    if any(c.root for c in chapters[:-1]):
        raise ChapterError(f"{path}: only the last chapter can be the repository root")
    return chapters


def built(project_root: Path) -> list[Chapter]:
    return [c for c in load_course(project_root) if c.built]


def find(project_root: Path, key: str | int) -> Chapter:
    """A chapter by number (3, "03") or slug ("running-containers", "03-running-containers")."""
    text = str(key)
    chapters = load_course(project_root)
    for chapter in chapters:
        if text in {str(chapter.number), f"{chapter.number:02d}", chapter.slug, chapter.folder}:
            if not chapter.built:
                raise ChapterError(f"chapter {chapter.folder} is not built yet")
            return chapter
    known = ", ".join(c.folder for c in chapters if c.built)
    raise ChapterError(f"unknown chapter {text!r}: choose one of {known}")


def _manifest_paths(manifest_text: str, where: str, key: str) -> list[str]:
    try:
        paths = tomllib.loads(manifest_text).get(key, [])
    except tomllib.TOMLDecodeError as exc:
        raise ChapterError(f"{where}: not valid TOML: {exc}") from exc
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ChapterError(f"{where}: field {key} must list paths")
    paths = [p.strip("/") for p in paths]
    for kept in ("README.md", MANIFEST):
        if kept in paths:
            raise ChapterError(f"{where}: {key} lists {kept}, which the chapter provides")
    return paths


def removed_paths(manifest_text: str, where: str) -> list[str]:
    """The manifest's `remove` list: root paths (files or folders) this stage lacks."""
    return _manifest_paths(manifest_text, where, "remove")


def restored_paths(manifest_text: str, where: str) -> list[str]:
    """The manifest's `restore` list: paths (files or folders) this stage takes from the
    repository root rather than from an earlier chapter's overlay."""
    return _manifest_paths(manifest_text, where, "restore")


def assemble(base: Mapping[str, T], chapter: Chapter, all_chapters: list[Chapter]) -> dict[str, T]:
    """Stage `chapter`'s file map from the repository's file map (path -> content handle).

    Pure: the same rule serves the working tree (handles are files) and git (blob ids).
    The manifest's `restore` and `remove` lists are applied by the caller (`apply_manifest`).
    """
    if chapter.root:
        return dict(base)
    folder = f"{chapter.path}/"
    try:
        readme, manifest = base[folder + "README.md"], base[folder + MANIFEST]
    except KeyError as exc:
        raise ChapterError(f"{chapter.path}/ lacks {exc.args[0].rsplit('/', 1)[-1]}") from exc
    chapter_folders = tuple(f"{c.path}/" for c in all_chapters)
    stage = {p: h for p, h in base.items() if not p.startswith(chapter_folders)}
    for earlier in (c for c in all_chapters if c.number <= chapter.number):
        overlay = f"{earlier.path}/files/"
        stage.update({p.removeprefix(overlay): h for p, h in base.items() if p.startswith(overlay)})
    stage["README.md"] = readme
    stage[MANIFEST] = manifest
    return stage


def drop(stage: MutableMapping[str, Any], remove: list[str]) -> None:
    """Remove each listed path (a file, or a folder with everything under it)."""
    for gone in remove:
        for path in [p for p in stage if p == gone or p.startswith(gone + "/")]:
            del stage[path]


def restore(
    stage: MutableMapping[str, T], base: Mapping[str, T], paths: list[str], where: str
) -> None:
    """Put each listed path (a file, or a folder with everything under it) back as the
    repository root has it, replacing what earlier chapters' overlays made of it."""
    for path in paths:
        root = {p: h for p, h in base.items() if p == path or p.startswith(path + "/")}
        if not root:
            raise ChapterError(f"{where}: restore lists {path}, which the repository root lacks")
        drop(stage, [path])
        stage.update(root)


def apply_manifest(
    stage: MutableMapping[str, T], base: Mapping[str, T], manifest_text: str, where: str
) -> None:
    """The manifest's edits to an assembled stage: `restore` first, then `remove`."""
    restore(stage, base, restored_paths(manifest_text, where), where)
    drop(stage, removed_paths(manifest_text, where))


# --- the working tree: materialise a stage to run it from main ----------------------------


def _git(project_root: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(project_root), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    ).stdout


def working_files(project_root: Path) -> dict[str, Path]:
    """Every file git would commit now: tracked and new, minus ignored and deleted ones."""
    listed = _git(project_root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    files = {}
    for name in listed.split("\0"):
        path = project_root / name
        if name and path.is_file():
            files[name] = path
    return files


def materialise(project_root: Path, chapter: Chapter, dest: Path | None = None) -> Path:
    """Write stage `chapter` from the working tree to `dest` (default .cache/stages/NN-slug).

    Synced in place: unchanged files are left alone and only files an earlier run wrote are
    removed, so a container bind-mounting the tree keeps working across re-syncs.
    """
    dest = dest or project_root / CACHE / chapter.folder
    chapters = load_course(project_root)
    base = working_files(project_root)
    stage = assemble(base, chapter, chapters)
    manifest = stage[MANIFEST]
    apply_manifest(stage, base, manifest.read_text(), str(manifest))
    dest.mkdir(parents=True, exist_ok=True)
    record = dest / MATERIALISED
    previous = set(record.read_text().splitlines()) if record.exists() else set()
    for stale in sorted(previous - stage.keys()):
        (dest / stale).unlink(missing_ok=True)
    for name, source in stage.items():
        target = dest / name
        data = source.read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        target.chmod(source.stat().st_mode & 0o777)
    record.write_text("\n".join(sorted(stage)) + "\n")
    return dest


def stage_root(project_root: Path, key: str | int) -> tuple[Chapter, Path]:
    """Where stage `key` can run: materialised from main, or this tree when it is a
    checkout of that stage (`invoke stage.checkout`: its root stage.toml is the chapter's)."""
    if (project_root / COURSE).exists() and (project_root / CHAPTERS_DIR).is_dir():
        chapter = find(project_root, key)
        if chapter.root:
            return chapter, project_root
        if (project_root / chapter.path).is_dir():
            return chapter, materialise(project_root, chapter)
    manifest = project_root / MANIFEST
    number = tomllib.loads(manifest.read_text()).get("number") if manifest.exists() else None
    chapter = find(project_root, key)
    if number != chapter.number:
        raise ChapterError(
            f"{project_root} is neither main (with {chapter.path}/) nor a checkout of stage "
            f"{chapter.folder}: run this from main, or `invoke stage.checkout {chapter.number}`"
        )
    return chapter, project_root


def stage_manifests(project_root: Path) -> list[Path]:
    """The materialised manifest of every built chapter that has its folder (for discovery);
    the root chapter's is the repository's own stage.toml, which discovery reads anyway."""
    return [
        materialise(project_root, c) / MANIFEST
        for c in built(project_root)
        if not c.root and (project_root / c.path).is_dir()
    ]


# --- git: the chain of stage commits -------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    mode: str
    oid: str


def tree_files(project_root: Path, commit: str) -> dict[str, Blob]:
    listed = _git(project_root, "ls-tree", "-r", "-z", "--full-tree", commit)
    files = {}
    for line in filter(None, listed.split("\0")):
        meta, name = line.split("\t", 1)
        mode, kind, oid = meta.split()
        if kind == "blob":  # submodules (commits) are not part of a stage
            files[name] = Blob(mode, oid)
    return files


def _write_tree(project_root: Path, files: Mapping[str, Blob]) -> str:
    """A tree object for `files`, built in a throwaway index: the user's index is untouched."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        entries = "".join(f"{b.mode} {b.oid}\t{p}\0" for p, b in sorted(files.items()))
        subprocess.run(
            ["git", "-C", str(project_root), "update-index", "--add", "-z", "--index-info"],
            input=entries,
            text=True,
            check=True,
            capture_output=True,
            env={**os.environ, **env},
        )
        return _git(project_root, "write-tree", env=env).strip()


def _blob_text(project_root: Path, blob: Blob) -> str:
    return _git(project_root, "cat-file", "blob", blob.oid)


def commit_date(chapter: Chapter) -> str:
    """One fixed hour per chapter after EPOCH, so `git log` shows the stages in order."""
    return EPOCH.replace("T00:", f"T{chapter.number:02d}:")


def stage_commits(project_root: Path, commit: str = "HEAD") -> list[tuple[Chapter, str]]:
    """The chain: one commit per built chapter, parent = the previous stage. Deterministic."""
    base = tree_files(project_root, commit)
    chapters = load_course(project_root)
    chain: list[tuple[Chapter, str]] = []
    parent: str | None = None
    for chapter in (c for c in chapters if c.built):
        files = assemble(base, chapter, chapters)
        if not chapter.root:
            manifest = _blob_text(project_root, files[MANIFEST])
            apply_manifest(files, base, manifest, chapter.path)
        tree = _write_tree(project_root, files)
        date = commit_date(chapter)
        env = {**IDENTITY, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        args = [
            "commit-tree",
            "--no-gpg-sign",
            tree,
            "-m",
            f"Stage {chapter.folder}: "
            f"{chapter.title}\n\nAssembled by `invoke stage.tag` (see chapters/README.md).",
        ]
        if parent:
            args += ["-p", parent]
        parent = _git(project_root, *args, env=env).strip()
        chain.append((chapter, parent))
    return chain


def current_tag(project_root: Path, chapter: Chapter) -> str | None:
    found = subprocess.run(
        [
            "git",
            "-C",
            str(project_root),
            "rev-parse",
            "-q",
            "--verify",
            f"refs/tags/{chapter.tag}^{{commit}}",
        ],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or None


def stale_tags(project_root: Path, chain: list[tuple[Chapter, str]]) -> list[str]:
    """The tags that are missing or point elsewhere than the chain computed from main."""
    return [
        f"{c.tag}: {'missing' if current_tag(project_root, c) is None else 'stale'}"
        for c, oid in chain
        if current_tag(project_root, c) != oid
    ]


def write_tags(project_root: Path, chain: list[tuple[Chapter, str]]) -> None:
    for chapter, oid in chain:
        _git(project_root, "update-ref", f"refs/tags/{chapter.tag}", oid)


def commit_of(project_root: Path, key: str | int, commit: str = "HEAD") -> tuple[Chapter, str]:
    chapter = find(project_root, key)
    for candidate, oid in stage_commits(project_root, commit):
        if candidate == chapter:
            return chapter, oid
    raise ChapterError(f"chapter {chapter.folder} has no stage")  # unreachable for built ones


def checkout(project_root: Path, key: str | int, dest: Path | None = None) -> Path:
    """A git worktree of stage `key` (detached, outside the user's tree)."""
    chapter, oid = commit_of(project_root, key)
    dest = dest or project_root.parent / "driftwood-stages" / chapter.folder
    if dest.resolve().is_relative_to(project_root.resolve()):
        raise ChapterError(f"{dest} is inside {project_root}: choose a folder outside it")
    if dest.exists():
        raise ChapterError(
            f"{dest} already exists: `git worktree remove {dest}` first, or pass --path"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    _git(project_root, "worktree", "add", "--detach", str(dest), oid)
    return dest


def diff(project_root: Path, a: str | int, b: str | int, patch: bool = False) -> str:
    """What changed from stage `a` to stage `b`, file by file (A/M/D/R), or the full patch."""
    chain = {c.number: oid for c, oid in stage_commits(project_root)}
    first, second = find(project_root, a), find(project_root, b)
    mode = ["--patch", "--stat"] if patch else ["--name-status", "-M"]
    return _git(project_root, "diff", *mode, chain[first.number], chain[second.number])
