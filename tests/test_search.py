"""The search SQL, compiled without a database: user text only ever travels as data."""

from sqlalchemy.dialects import postgresql

from driftwood import search
from driftwood.query import parse_query
from driftwood.tagging import clean_tag_names, parse_tags


def sql(query_text: str, *, own: bool = True) -> str:
    found = search.build(parse_query(query_text), own=own)
    clauses = [*found.conditions, *found.tiers]
    return " AND ".join(
        str(c.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        for c in clauses
    )


def test_words_become_quoted_prefixes_so_operators_stay_literal():
    assert search.prefix_query(("kett", "it's", "a&b|!c")) == ("'kett':* & 'it''s':* & 'a&b|!c':*")
    assert search.prefix_query(("back\\slash",), "AB") == "'backslash':*AB"
    assert search.prefix_query(("!!!", "--")) is None  # nothing to search for


def test_words_give_three_tiers_and_no_words_give_one():
    assert len(search.build(parse_query("kettle tea")).tiers) == 3
    assert len(search.build(parse_query('#tea "a phrase" site:example.org')).tiers) == 1


def test_only_the_owner_searches_the_notes():
    own, others = sql('kettle -"bad word"'), sql('kettle -"bad word"', own=False)
    assert "notes" not in own  # the stored document (title, description, notes, URL)
    assert "bookmarks.search @@ to_tsquery" in others  # the index narrows down...
    # ...and each candidate is checked again without its notes, for words and exclusions.
    document = "to_tsvector('simple'::regconfig, concat_ws(' ', bookmarks.title,"
    assert f"{document} bookmarks.description, bookmarks.url)) @@ to_tsquery" in others
    assert f"NOT ({document} bookmarks.description, bookmarks.url)) @@ phraseto" in others
    assert "notes" not in others


def test_only_the_owner_filters_by_the_unread_state():
    # Anyone else's bookmarks: is:unread would tell what their owner has not read yet.
    assert "bookmarks.unread IS true" in sql("is:unread")
    assert "unread" not in sql("is:unread", own=False)
    assert "unread" not in sql("is:read", own=False)


def test_every_filter_reaches_the_sql():
    text = sql('kettle "a phrase" -bad #tea -#old site:example.org is:unread is:public')
    assert "to_tsquery('simple'::regconfig, '''kettle'':*')" in text  # quotes doubled in SQL
    assert "phraseto_tsquery('simple'::regconfig, 'a phrase')" in text
    assert "NOT (bookmarks.search @@ phraseto_tsquery('simple'::regconfig, 'bad'))" in text
    assert "lower(tags.name) = 'tea'" in text
    assert "NOT (EXISTS" in text
    assert "bookmarks.host = 'example.org' OR bookmarks.host LIKE '%%.example.org'" in text
    assert "bookmarks.unread IS true" in text
    assert "bookmarks.visibility = 'public'" in text


def test_tag_names_are_cleaned():
    assert parse_tags(" #a, b  A c,, ") == ["a", "b", "c"]
    assert clean_tag_names(["Bookmarks Toolbar", " ", "x,y"]) == ["Bookmarks-Toolbar", "x-y"]
