"""Tags: clean names, counts, rename, merge and delete, always within one user's tags.

Tag names follow linkding and Pinboard: one word each (no spaces or commas, which separate
tags when typed), unique per user regardless of case, the first spelling kept.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from werkzeug.routing import PathConverter

from driftwood.models import Tag, User, bookmark_tags

MAX_TAG_LENGTH = 100
_SEPARATORS = re.compile(r"[\s,]+")


class TagConverter(PathConverter):
    """`<tag:name>` in a route: a tag name may hold `/` (`ci/cd`), and the server hands the
    app the path already decoded, so an escaped `%2F` arrives as a `/` too: the default
    converter stops there (404). Any characters, then, even a leading `/`; `url_for`
    escapes the rest (`#`, `?`, `%`). Routes using it set `merge_slashes=False`, or a name
    like `a//b` would be redirected to another tag's URL."""

    regex = ".+?"
    part_isolating = False  # the name may span several path segments


def parse_tags(text: str) -> list[str]:
    """Tags typed into one field: separated by spaces or commas."""
    return clean_tag_names(_SEPARATORS.split(text))


def clean_tag_names(names: Iterable[str]) -> list[str]:
    """Usable tag names: `#` prefix dropped, inner spaces and commas become `-`, empty and
    repeated (any case) names dropped, order kept."""
    cleaned: dict[str, str] = {}
    for raw in names:
        # Invisible characters go first, the cut comes last: cleaning a clean name (an
        # exported tag imported again) must give the same name back.
        name = "".join(c for c in raw if c.isprintable() or c.isspace())
        name = _SEPARATORS.sub("-", name).lstrip("#-").rstrip("-")
        name = name[:MAX_TAG_LENGTH].rstrip("-")
        if name and name.lower() not in cleaned:
            cleaned[name.lower()] = name
    return list(cleaned.values())


def tags_named(session: Session, user: User, names: Iterable[str]) -> list[Tag]:
    """The user's tags with these names (any case), creating the missing ones."""
    wanted = clean_tag_names(names)
    if not wanted:
        return []
    session.execute(
        insert(Tag)
        .values([{"user_id": user.id, "name": name} for name in wanted])
        .on_conflict_do_nothing()
    )
    found = session.scalars(
        select(Tag).where(
            Tag.user_id == user.id, func.lower(Tag.name).in_([n.lower() for n in wanted])
        )
    )
    by_name = {tag.name.lower(): tag for tag in found}
    return [by_name[name.lower()] for name in wanted]


def get_tag(session: Session, user: User, name: str) -> Tag | None:
    if "\x00" in name:  # no tag holds one, and PostgreSQL refuses it as a parameter
        return None
    return session.scalar(
        select(Tag).where(Tag.user_id == user.id, func.lower(Tag.name) == name.strip().lower())
    )


@dataclass(frozen=True)
class TagCount:
    tag: Tag
    count: int


def tag_counts(session: Session, user: User) -> list[TagCount]:
    """Every tag of the user with its number of bookmarks (0 for unused tags), by name."""
    count = func.count(bookmark_tags.c.bookmark_id)
    rows = session.execute(
        select(Tag, count)
        .outerjoin(bookmark_tags, bookmark_tags.c.tag_id == Tag.id)
        .where(Tag.user_id == user.id)
        .group_by(Tag.id)
        .order_by(func.lower(Tag.name))
    )
    return [TagCount(tag, n) for tag, n in rows]


def merge_tags(session: Session, user: User, sources: Iterable[Tag], target: Tag) -> Tag:
    """Move every bookmark of `sources` to `target` and delete the sources."""
    source_ids = [t.id for t in sources if t.user_id == user.id and t.id != target.id]
    if target.user_id != user.id or not source_ids:
        return target
    session.execute(
        insert(bookmark_tags)
        .from_select(
            ["bookmark_id", "tag_id"],
            select(bookmark_tags.c.bookmark_id, target.id).where(
                bookmark_tags.c.tag_id.in_(source_ids)
            ),
        )
        .on_conflict_do_nothing()
    )
    session.execute(delete(Tag).where(Tag.id.in_(source_ids)))
    session.expire_all()
    return target


def rename_tag(session: Session, user: User, tag: Tag, new_name: str) -> Tag:
    """Rename; renaming onto another existing tag merges the two (as linkding does)."""
    names = clean_tag_names([new_name])
    if not names:
        raise ValueError("a tag name needs at least one character other than spaces and commas")
    existing = get_tag(session, user, names[0])
    if existing is not None and existing.id != tag.id:
        return merge_tags(session, user, [tag], existing)
    tag.name = names[0]
    session.flush()
    return tag


def delete_tag(session: Session, user: User, tag: Tag) -> None:
    """Remove the tag from every bookmark; the bookmarks themselves stay."""
    if tag.user_id == user.id:
        session.delete(tag)
        session.flush()
        session.expire_all()
