"""Apply a parsed bookmark file to one user's bookmarks, or say what that would do.

Rules, so that an import can never hurt what is stored:
- a URL the user has not saved yet is added, with its dates, tags, flags and texts;
- a URL already saved (after normalisation) only gains what it lacks: tags it does not
  have yet, and a title, description or notes where the stored one is empty. Nothing
  stored is overwritten, blanked or deleted;
- the same URL twice in one file is merged into its first occurrence;
- entries the parser rejected are reported with their line and reason.
Everything happens in one savepoint: an unexpected error leaves the account as it was.
The caller commits (or, for a dry run, nothing was written).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from driftwood import library
from driftwood.models import Bookmark, User, Visibility
from driftwood.netscape import NetscapeBookmark, ParseResult
from driftwood.urls import InvalidURL, normalize_url

_TEXTS = ("title", "description", "notes")
_LOOKUP_CHUNK = 1000  # URLs per `IN (...)` when looking for bookmarks already stored


@dataclass(frozen=True)
class ImportEntry:
    line: int
    url: str
    title: str
    detail: str = ""  # why it was skipped or rejected, or what an update adds


@dataclass
class ImportReport:
    dry_run: bool
    added: list[ImportEntry] = field(default_factory=list)
    updated: list[ImportEntry] = field(default_factory=list)
    skipped: list[ImportEntry] = field(default_factory=list)  # duplicates with nothing new
    rejected: list[ImportEntry] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        return (
            f"{len(self.added)} {verb} added, {len(self.updated)} {verb} updated,"
            f" {len(self.skipped)} duplicates skipped, {len(self.rejected)} rejected"
        )

    def as_dict(self) -> dict[str, Any]:
        outcome = ("added", "updated", "skipped", "rejected")
        return {
            "dry_run": self.dry_run,
            **{name: [vars(entry) for entry in getattr(self, name)] for name in outcome},
        }


def _entry(item: NetscapeBookmark, detail: str = "") -> ImportEntry:
    return ImportEntry(item.line, item.url, item.title, detail)


def _merge(first: NetscapeBookmark, again: NetscapeBookmark) -> NetscapeBookmark:
    """The first occurrence of a URL, completed by a later one (blanks filled, tags added)."""
    texts = {name: getattr(first, name) or getattr(again, name) for name in _TEXTS}
    return replace(first, **texts, tags=(*first.tags, *again.tags))


def _stored(session: Session, user: User, keys: list[str]) -> dict[str, Bookmark]:
    found: dict[str, Bookmark] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        found.update(
            (bookmark.url_normalized, bookmark)
            for bookmark in session.scalars(
                select(Bookmark)
                .where(library.owned_by(user), Bookmark.url_normalized.in_(chunk))
                .options(selectinload(Bookmark.tags))
            )
        )
    return found


def _additions(bookmark: Bookmark, item: NetscapeBookmark) -> dict[str, Any]:
    """What the file adds to a stored bookmark, as `update_bookmark` arguments."""
    changes: dict[str, Any] = {
        name: getattr(item, name)
        for name in _TEXTS
        if getattr(item, name) and not getattr(bookmark, name)
    }
    have = [tag.name for tag in bookmark.tags]
    new = [tag for tag in item.tags if tag.lower() not in {name.lower() for name in have}]
    if new:
        changes["tags"] = have + new
    return changes


def _describe(changes: Iterable[str]) -> str:
    return "adds " + ", ".join(changes)


def import_bookmarks(
    session: Session, user: User, parsed: ParseResult, *, dry_run: bool
) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    report.rejected += [ImportEntry(r.line, r.url, r.title, r.reason) for r in parsed.rejected]
    unique: dict[str, NetscapeBookmark] = {}
    for item in parsed.bookmarks:
        try:
            key = normalize_url(item.url)
        except InvalidURL as error:
            report.rejected.append(_entry(item, str(error)))
            continue
        if key in unique:
            report.skipped.append(_entry(item, f"same URL as line {unique[key].line}"))
            unique[key] = _merge(unique[key], item)
        else:
            unique[key] = item

    with session.begin_nested():
        stored = _stored(session, user, list(unique))
        for key, item in unique.items():
            bookmark = stored.get(key)
            if bookmark is None:
                report.added.append(_entry(item))
                if not dry_run:
                    _create(session, user, item)
                continue
            changes = _additions(bookmark, item)
            if not changes:
                report.skipped.append(_entry(item, "already saved"))
                continue
            report.updated.append(_entry(item, _describe(changes)))
            if not dry_run:
                library.update_bookmark(session, bookmark, **changes)
    for outcome in (report.added, report.updated, report.skipped, report.rejected):
        outcome.sort(key=lambda entry: entry.line)
    return report


def _create(session: Session, user: User, item: NetscapeBookmark) -> None:
    library.create_bookmark(
        session,
        user,
        url=item.url,
        title=item.title,
        description=item.description,
        notes=item.notes,
        tags=item.tags,
        unread=item.unread,
        # A browser export says nothing about sharing: private is the safe default.
        visibility=Visibility(item.visibility) if item.visibility else Visibility.PRIVATE,
        created_at=item.added,
        updated_at=item.modified,
    )
