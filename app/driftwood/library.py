"""Bookmarks: the rules for saving, changing and listing them, in one place.

The web UI, the API, the importer and the CLI all call these functions, so a rule (URL
checks, duplicates, tag names) is written once. Every function takes the session first
and only flushes: the caller decides when to commit. Every query is limited to one owner
or to what a viewer may see; see the `Scope` helpers.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from driftwood import search
from driftwood.models import Bookmark, Tag, User, Visibility, bookmark_tags
from driftwood.query import SearchQuery
from driftwood.tagging import clean_tag_names, tags_named
from driftwood.urls import InvalidURL, clean_url, normalize_url

MAX_PAGE_SIZE = 100


class DuplicateBookmark(ValueError):
    """The user already has this URL; `existing` is the stored bookmark to offer instead."""

    def __init__(self, existing: Bookmark) -> None:
        super().__init__(f"this URL is already bookmarked: {existing.url}")
        self.existing = existing


def clean_text(text: str) -> str:
    """Trimmed, without what PostgreSQL text cannot hold: NUL, and lone surrogates (which
    JSON escapes like "\\ud800" can produce)."""
    return "".join(c for c in text if c != "\x00" and not "\ud800" <= c <= "\udfff").strip()


# --- Who may see what: every listing starts from one of these ----------------------------


def owned_by(user: User) -> ColumnElement[bool]:
    return Bookmark.user_id == user.id


def public_of(user: User) -> ColumnElement[bool]:
    return (Bookmark.user_id == user.id) & (Bookmark.visibility == Visibility.PUBLIC)


def shared_with_users() -> ColumnElement[bool]:
    """What any signed-in user of the instance may see of everyone's bookmarks."""
    return Bookmark.visibility != Visibility.PRIVATE


def public() -> ColumnElement[bool]:
    return Bookmark.visibility == Visibility.PUBLIC


# --- Single bookmarks ------------------------------------------------------------------


def get_bookmark(session: Session, user: User, bookmark_id: int) -> Bookmark | None:
    """The user's own bookmark with that id; someone else's is as absent as a missing one."""
    return session.scalar(select(Bookmark).where(Bookmark.id == bookmark_id, owned_by(user)))


def find_by_normalized_url(session: Session, user: User, url: str) -> Bookmark | None:
    try:
        normalized = normalize_url(url)
    except InvalidURL:
        return None
    return session.scalar(
        select(Bookmark).where(owned_by(user), Bookmark.url_normalized == normalized)
    )


def create_bookmark(
    session: Session,
    user: User,
    *,
    url: str,
    title: str = "",
    description: str = "",
    notes: str = "",
    tags: Iterable[str] = (),
    unread: bool = False,
    visibility: Visibility = Visibility.PRIVATE,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> Bookmark:
    """Save a new bookmark. Raises InvalidURL, or DuplicateBookmark with the stored one."""
    url = clean_url(url)
    normalized = normalize_url(url)
    existing = find_by_normalized_url(session, user, normalized)
    if existing is not None:
        raise DuplicateBookmark(existing)
    bookmark = Bookmark(
        user_id=user.id,
        url=url,
        url_normalized=normalized,
        title=clean_text(title),
        description=clean_text(description),
        notes=clean_text(notes),
        unread=unread,
        visibility=visibility,
        tags=tags_named(session, user, tags),
    )
    if created_at is not None:
        bookmark.created_at = created_at
    if updated_at is not None or created_at is not None:
        bookmark.updated_at = updated_at or created_at  # type: ignore[assignment]
    session.add(bookmark)
    _flush_or_duplicate(session, user, bookmark)
    return bookmark


def update_bookmark(
    session: Session,
    bookmark: Bookmark,
    *,
    url: str | None = None,
    title: str | None = None,
    description: str | None = None,
    notes: str | None = None,
    tags: Iterable[str] | None = None,
    unread: bool | None = None,
    visibility: Visibility | None = None,
) -> Bookmark:
    """Change the given fields (None leaves a field as it is, like a PATCH)."""
    user = session.get_one(User, bookmark.user_id)
    if url is not None:
        url = clean_url(url)
        normalized = normalize_url(url)
        existing = find_by_normalized_url(session, user, normalized)
        if existing is not None and existing.id != bookmark.id:
            raise DuplicateBookmark(existing)
        bookmark.url, bookmark.url_normalized = url, normalized
    for name, value in (("title", title), ("description", description), ("notes", notes)):
        if value is not None:
            setattr(bookmark, name, clean_text(value))
    if unread is not None:
        bookmark.unread = unread
    if visibility is not None:
        bookmark.visibility = visibility
    if tags is not None:
        bookmark.tags = tags_named(session, user, tags)
    bookmark.updated_at = func.now()  # type: ignore[assignment]
    _flush_or_duplicate(session, user, bookmark)
    return bookmark


def delete_bookmark(session: Session, bookmark: Bookmark) -> None:
    session.delete(bookmark)
    session.flush()


def _flush_or_duplicate(session: Session, user: User, bookmark: Bookmark) -> None:
    """Flush; a concurrent save of the same URL (the unique constraint) becomes a duplicate."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        existing = find_by_normalized_url(session, user, bookmark.url_normalized)
        if existing is None:
            raise
        raise DuplicateBookmark(existing) from None


# --- Many bookmarks at once ------------------------------------------------------------


def bulk_tag(
    session: Session,
    user: User,
    bookmark_ids: Sequence[int],
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> int:
    """Add and remove tags on the user's bookmarks among `bookmark_ids`; returns how many."""
    ids = list(
        session.scalars(select(Bookmark.id).where(owned_by(user), Bookmark.id.in_(bookmark_ids)))
    )
    added = tags_named(session, user, add)
    if ids and added:
        session.execute(
            insert(bookmark_tags)
            .values([{"bookmark_id": b, "tag_id": t.id} for b in ids for t in added])
            .on_conflict_do_nothing()
        )
    removed = [name.lower() for name in clean_tag_names(remove)]
    if ids and removed:
        tag_ids = select(Tag.id).where(Tag.user_id == user.id, func.lower(Tag.name).in_(removed))
        session.execute(
            delete(bookmark_tags).where(
                bookmark_tags.c.bookmark_id.in_(ids), bookmark_tags.c.tag_id.in_(tag_ids)
            )
        )
    if ids:
        session.execute(
            Bookmark.__table__.update().where(Bookmark.id.in_(ids)).values(updated_at=func.now())
        )
    session.expire_all()  # loaded bookmarks' tag lists changed behind the ORM's back
    return len(ids)


def bulk_delete(session: Session, user: User, bookmark_ids: Sequence[int]) -> int:
    result = session.execute(delete(Bookmark).where(owned_by(user), Bookmark.id.in_(bookmark_ids)))
    session.expire_all()
    return int(result.rowcount)  # type: ignore[attr-defined]


def bulk_mark_unread(
    session: Session, user: User, bookmark_ids: Sequence[int], *, unread: bool
) -> int:
    result = session.execute(
        update(Bookmark)
        .where(owned_by(user), Bookmark.id.in_(bookmark_ids))
        .values(unread=unread, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- Listing and search ----------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    bookmarks: list[Bookmark]
    next_cursor: str | None  # pass back as `cursor` for the following page


def list_bookmarks(
    session: Session,
    scope: ColumnElement[bool],
    query: SearchQuery = SearchQuery(),  # noqa: B008 - frozen, so one shared default is safe
    *,
    limit: int = 30,
    cursor: str | None = None,
    offset: int = 0,
    own: bool = False,
) -> Page:
    """One page of bookmarks in `scope` matching `query`: best search tier first (see
    search.py), newest first within a tier. `own=True` searches the notes and the unread
    state too: only when `scope` is the viewer's own bookmarks (nobody else may see them).

    Pages are keyset-paginated: `cursor` names the last row seen, so page 1,000 costs what
    page 1 costs (OFFSET would read and discard every earlier row). `offset` exists for
    linkding-style API clients, and costs what OFFSET costs.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    found = search.build(query, session, own=own)
    newest_first = (Bookmark.created_at.desc(), Bookmark.id.desc())
    base = (
        select(Bookmark)
        .where(scope, *found.conditions)
        .options(selectinload(Bookmark.tags), selectinload(Bookmark.user))
    )
    if offset > 0 and not cursor:
        tier = case(*((c, i) for i, c in enumerate(found.tiers)))
        statement = base.order_by(tier, *newest_first).offset(offset).limit(limit)
        # No cursor: whoever pages by offset continues by offset.
        return Page(list(session.scalars(statement)), None)
    after = _decode_cursor(cursor, tiers=len(found.tiers))
    rows: list[tuple[int, Bookmark]] = []
    for number in range(after[0] if after else 0, len(found.tiers)):
        statement = base.where(found.tiers[number]).order_by(*newest_first)
        if after and number == after[0]:
            statement = statement.where(
                tuple_(Bookmark.created_at, Bookmark.id) < tuple_(after[1], after[2])
            )
        rows += [(number, b) for b in session.scalars(statement.limit(limit + 1 - len(rows)))]
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(*rows[-1]) if more else None
    return Page([bookmark for _, bookmark in rows], next_cursor)


def count_bookmarks(
    session: Session,
    scope: ColumnElement[bool],
    query: SearchQuery = SearchQuery(),  # noqa: B008
    *,
    own: bool = False,
) -> int:
    found = search.build(query, session, own=own)
    return (
        session.scalar(select(func.count()).select_from(Bookmark).where(scope, *found.conditions))
        or 0
    )


def _encode_cursor(tier: int, bookmark: Bookmark) -> str:
    return f"{tier}~{bookmark.created_at.isoformat()}~{bookmark.id}"


def _decode_cursor(cursor: str | None, *, tiers: int) -> tuple[int, datetime, int] | None:
    """The (tier, created_at, id) a cursor names; a malformed or foreign cursor starts over."""
    try:
        tier, created_at, bookmark_id = (cursor or "").split("~")
        after = int(tier), datetime.fromisoformat(created_at), int(bookmark_id)
    except ValueError:
        return None
    return after if 0 <= after[0] < tiers else None
