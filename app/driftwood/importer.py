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

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import Copy, sql
from sqlalchemy import ColumnElement, Text, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, selectinload

from driftwood import library, tagging
from driftwood.models import Bookmark, User, Visibility, bookmark_tags
from driftwood.netscape import NetscapeBookmark, ParseResult
from driftwood.urls import InvalidURL, normalize_url

_TEXTS = ("title", "description", "notes")
# Tags created per statement: PostgreSQL takes at most 65,535 parameters in one.
_TAG_CHUNK = 10_000
_COLUMNS = ("user_id", "url", "url_normalized", "title", "description", "notes", "unread")
_COLUMNS += ("visibility", "created_at", "updated_at")


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
    tags = tagging.clean_tag_names((*first.tags, *again.tags))
    return replace(first, **texts, tags=tuple(tags))


def _any(keys: list[str]) -> ColumnElement[Any]:
    # One array parameter (`= ANY(%s)`), not an `IN` list of 10,000 parameters.
    return any_(bindparam("keys", keys, type_=ARRAY(Text)))


def _stored(session: Session, user: User, keys: list[str]) -> dict[str, Bookmark]:
    found = session.scalars(
        select(Bookmark)
        .where(library.owned_by(user), Bookmark.url_normalized == _any(keys))
        .options(selectinload(Bookmark.tags))
    )
    return {bookmark.url_normalized: bookmark for bookmark in found}


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
        new: dict[str, NetscapeBookmark] = {}
        for key, item in unique.items():
            bookmark = stored.get(key)
            if bookmark is None:
                report.added.append(_entry(item))
                new[key] = item
                continue
            changes = _additions(bookmark, item)
            if not changes:
                report.skipped.append(_entry(item, "already saved"))
                continue
            report.updated.append(_entry(item, _describe(changes)))
            if not dry_run:
                library.update_bookmark(session, bookmark, **changes)
        if not dry_run:
            _create_all(session, user, new)
    for outcome in (report.added, report.updated, report.skipped, report.rejected):
        outcome.sort(key=lambda entry: entry.line)
    return report


def _create_all(session: Session, user: User, new: dict[str, NetscapeBookmark]) -> None:
    """Store the new bookmarks with PostgreSQL's COPY rather than several statements per
    bookmark (`library.create_bookmark`): a 10,000-entry file takes seconds, not minutes.
    The rules stay the library's: `netscape.parse` ran `clean_url` and `clean_tag_names`,
    the keys come from `normalize_url`, the tags from `tags_named`."""
    if not new:
        return
    names = list({name.lower(): name for item in new.values() for name in item.tags}.values())
    tag_ids: dict[str, int] = {}
    for start in range(0, len(names), _TAG_CHUNK):
        chunk = tagging.tags_named(session, user, names[start : start + _TAG_CHUNK])
        tag_ids.update((tag.name.lower(), tag.id) for tag in chunk)
    now = datetime.now(UTC)
    with _copy(session, Bookmark.__tablename__, _COLUMNS) as copy:
        for key, item in new.items():
            copy.write_row(_row(user, key, item, now))
    ids = dict(
        session.execute(
            select(Bookmark.url_normalized, Bookmark.id).where(
                library.owned_by(user), Bookmark.url_normalized == _any(list(new))
            )
        ).all()
    )
    _link_tags(
        session,
        [(ids[key], tag_ids[name.lower()]) for key, item in new.items() for name in item.tags],
    )


def _link_tags(session: Session, links: list[tuple[int, int]]) -> None:
    with _copy(session, bookmark_tags.name, ("bookmark_id", "tag_id")) as copy:
        for link in links:
            copy.write_row(link)


def _row(user: User, key: str, item: NetscapeBookmark, now: datetime) -> tuple[Any, ...]:
    # A browser export says nothing about sharing: private is the safe default.
    visibility = Visibility(item.visibility or Visibility.PRIVATE.value).value
    texts = (item.title.strip(), item.description.strip(), item.notes.strip())
    dates = (item.added or now, item.modified or item.added or now)
    return (user.id, item.url, key, *texts, item.unread, visibility, *dates)


@contextlib.contextmanager
def _copy(session: Session, table: str, columns: Sequence[str]) -> Iterator[Copy]:
    """A COPY into `table` inside the session's transaction (so a rollback undoes it)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    driver: psycopg.Connection[Any] = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        yield copy
