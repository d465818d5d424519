"""PostgreSQL full-text search: a parsed `SearchQuery` becomes SQL conditions and tiers.

Words match as prefixes (`kett` finds "kettle"), phrases match in order, `#tag` and
`site:` filter. Results are ranked in tiers by where the words occur, using the weights
stored in the search document: all words in the title first, then in title or
description, then anywhere (notes, URL); newest first within a tier. Unlike ts_rank(),
which must score every match before the first page can be shown (hundreds of
milliseconds for a common word in 100,000 bookmarks), each tier is an index-ordered scan
that stops after one page, on page 1 as on page 1,000.

Nothing here knows who is asking: callers always add the owner or visibility condition
(see `library.list_bookmarks`), and say whether the bookmarks are the viewer's own. Only
the owner sees the notes and the unread state, so a search of anyone else's bookmarks must
not match on them either: it would reveal the notes a word (with prefixes a letter) at a
time, and `is:unread` what the owner has not read yet.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, not_, or_, select, true
from sqlalchemy.orm import Session

from driftwood.models import Bookmark, Tag, Visibility, bookmark_tags
from driftwood.query import SearchQuery

CONFIG = literal_column("'simple'::regconfig")  # must match the stored search document
_WORD = re.compile(r"\w")


# Everything of a bookmark but its notes, for searches of other people's bookmarks. Computed
# per candidate row, after the stored document's index has narrowed them down.
SHARED_DOCUMENT = func.to_tsvector(
    CONFIG, func.concat_ws(" ", Bookmark.title, Bookmark.description, Bookmark.url)
)


# Tiers, best first, as the stored weights each word must carry: A title, B description.
TIER_WEIGHTS = ("A", "AB")


@dataclass(frozen=True)
class Search:
    conditions: list[ColumnElement[bool]]  # every result meets all of these
    # Disjoint extra conditions, best tier first; a single `true` when nothing ranks.
    tiers: list[ColumnElement[bool]] = field(default_factory=lambda: [true()])


def prefix_query(words: tuple[str, ...], weights: str = "") -> str | None:
    """A to_tsquery() text that requires every word as a prefix (with one of `weights`,
    when given), quoted so that no user input is ever read as tsquery operators."""
    quoted = [
        "'" + word.replace("\\", "").replace("'", "''") + "':*" + weights
        for word in words
        if _WORD.search(word)
    ]
    return " & ".join(quoted) or None


def _in(document: Any, tsquery: Any) -> ColumnElement[bool]:
    """`document @@ tsquery`: the text search document matches the query."""
    matched: ColumnElement[bool] = document.bool_op("@@")(tsquery)
    return matched


def _matches(tsquery_text: str) -> ColumnElement[bool]:
    return _in(Bookmark.search, func.to_tsquery(CONFIG, tsquery_text))


def _tiers(words: tuple[str, ...]) -> list[ColumnElement[bool]]:
    weighted = [_matches(prefix_query(words, w) or "") for w in TIER_WEIGHTS]
    tiers, better = [], []
    for match in [*weighted, true()]:
        tiers.append(and_(match, *(not_(b) for b in better)))
        better.append(match)
    return tiers


def has_tag(name: str, tag_ids: Sequence[int] | None = None) -> ColumnElement[bool]:
    """The bookmark carries the tag `name` (any case). With the `tag_ids` of that name
    looked up beforehand (see `tag_ids`), PostgreSQL can estimate how common the tag is
    and choose between walking the newest bookmarks and fetching the tagged ones."""
    if tag_ids is not None:
        return exists(
            select(1).where(
                bookmark_tags.c.bookmark_id == Bookmark.id, bookmark_tags.c.tag_id.in_(tag_ids)
            )
        )
    return exists(
        select(1)
        .select_from(bookmark_tags.join(Tag, Tag.id == bookmark_tags.c.tag_id))
        .where(bookmark_tags.c.bookmark_id == Bookmark.id, func.lower(Tag.name) == name.lower())
    )


def tag_ids(session: Session, names: Iterable[str]) -> dict[str, list[int]]:
    """The ids of every tag (of any user) with each of these names, by lowercased name.
    The scope condition still decides whose bookmarks are seen."""
    lowered = {name.lower() for name in names}
    found: dict[str, list[int]] = {name: [] for name in lowered}
    if lowered:
        rows = session.execute(
            select(func.lower(Tag.name), Tag.id).where(func.lower(Tag.name).in_(lowered))
        )
        for name, tag_id in rows:
            found[name].append(tag_id)
    return found


def _on_site(site: str) -> ColumnElement[bool]:
    escaped = site.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(Bookmark.host == site, Bookmark.host.like("%." + escaped, escape="\\"))


def build(query: SearchQuery, session: Session | None = None, *, own: bool = False) -> Search:
    """The SQL for `query`; with a `session`, tag names are resolved to ids first. Only with
    `own=True` (the viewer's own bookmarks) do words and phrases match the notes too, and
    is:unread / is:read filter; for anyone else's bookmarks they are ignored."""
    ids = tag_ids(session, query.tags + query.excluded_tags) if session else {}
    conditions: list[ColumnElement[bool]] = []
    matches = []
    words = prefix_query(query.terms)
    if words:
        matches.append(func.to_tsquery(CONFIG, words))
    matches += [func.phraseto_tsquery(CONFIG, phrase) for phrase in query.phrases if phrase]
    if matches:
        combined = matches[0]
        for match in matches[1:]:
            combined = combined.op("&&")(match)
        conditions.append(_in(Bookmark.search, combined))  # the indexed document
        if not own:
            conditions.append(_in(SHARED_DOCUMENT, combined))
    document = Bookmark.search if own else SHARED_DOCUMENT
    conditions += [
        not_(_in(document, func.phraseto_tsquery(CONFIG, excluded)))
        for excluded in query.excluded_terms
        if _WORD.search(excluded)
    ]
    conditions += [has_tag(tag, ids.get(tag.lower())) for tag in query.tags]
    conditions += [not_(has_tag(tag, ids.get(tag.lower()))) for tag in query.excluded_tags]
    if query.sites:
        conditions.append(or_(*(_on_site(site) for site in query.sites)))
    if own and query.unread is not None:
        conditions.append(Bookmark.unread.is_(query.unread))
    if query.public is True:
        conditions.append(Bookmark.visibility == Visibility.PUBLIC)
    elif query.public is False:
        conditions.append(Bookmark.visibility != Visibility.PUBLIC)
    return Search(conditions, _tiers(query.terms)) if words else Search(conditions)
