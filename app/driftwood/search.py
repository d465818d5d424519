"""PostgreSQL full-text search: a parsed `SearchQuery` becomes SQL conditions and a rank.

Words match as prefixes (`kett` finds "kettle"), phrases match in order, `#tag` and
`site:` filter, and results are ranked by where the words occur (title before description
before notes and URL). Nothing here knows who is asking: callers always add the owner or
visibility condition (see `library.list_bookmarks`).
"""

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, func, literal_column, not_, or_, select

from driftwood.models import Bookmark, Tag, Visibility, bookmark_tags
from driftwood.query import SearchQuery

CONFIG = literal_column("'simple'::regconfig")  # must match the stored search document
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Search:
    conditions: list[ColumnElement[bool]]
    rank: ColumnElement[float] | None  # None: no words to rank by, list newest first


def prefix_query(words: tuple[str, ...]) -> str | None:
    """A to_tsquery() text that requires every word as a prefix, quoted so that no user
    input is ever read as tsquery operators."""
    quoted = [
        "'" + word.replace("\\", "").replace("'", "''") + "':*"
        for word in words
        if _WORD.search(word)
    ]
    return " & ".join(quoted) or None


def has_tag(name: str) -> ColumnElement[bool]:
    return exists(
        select(1)
        .select_from(bookmark_tags.join(Tag, Tag.id == bookmark_tags.c.tag_id))
        .where(bookmark_tags.c.bookmark_id == Bookmark.id, func.lower(Tag.name) == name.lower())
    )


def _on_site(site: str) -> ColumnElement[bool]:
    escaped = site.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(Bookmark.host == site, Bookmark.host.like("%." + escaped, escape="\\"))


def build(query: SearchQuery) -> Search:
    conditions: list[ColumnElement[bool]] = []
    matches = []
    words = prefix_query(query.terms)
    if words:
        matches.append(func.to_tsquery(CONFIG, words))
    matches += [func.phraseto_tsquery(CONFIG, phrase) for phrase in query.phrases if phrase]
    rank = None
    if matches:
        combined = matches[0]
        for match in matches[1:]:
            combined = combined.op("&&")(match)
        conditions.append(Bookmark.search.bool_op("@@")(combined))
        rank = func.ts_rank_cd(Bookmark.search, combined)
    conditions += [
        not_(Bookmark.search.bool_op("@@")(func.phraseto_tsquery(CONFIG, excluded)))
        for excluded in query.excluded_terms
        if _WORD.search(excluded)
    ]
    conditions += [has_tag(tag) for tag in query.tags]
    conditions += [not_(has_tag(tag)) for tag in query.excluded_tags]
    if query.sites:
        conditions.append(or_(*(_on_site(site) for site in query.sites)))
    if query.unread is not None:
        conditions.append(Bookmark.unread.is_(query.unread))
    if query.public is True:
        conditions.append(Bookmark.visibility == Visibility.PUBLIC)
    elif query.public is False:
        conditions.append(Bookmark.visibility != Visibility.PUBLIC)
    return Search(conditions=conditions, rank=rank)
