"""The bookmark rules shared by the UI, the API, the importer and the CLI."""

from datetime import UTC, datetime, timedelta

import pytest

from driftwood import library, tagging
from driftwood.models import Visibility
from driftwood.query import parse_query
from driftwood.urls import InvalidURL


def test_a_normalised_duplicate_is_refused_and_offers_the_stored_bookmark(session, alice):
    first = library.create_bookmark(session, alice, url="https://Example.org/a/?utm_source=x")
    with pytest.raises(library.DuplicateBookmark) as raised:
        library.create_bookmark(session, alice, url="example.org/a")
    assert raised.value.existing.id == first.id


def test_the_same_url_is_not_a_duplicate_for_another_user(session, alice, bob):
    library.create_bookmark(session, alice, url="https://example.org/")
    assert library.create_bookmark(session, bob, url="https://example.org/").user_id == bob.id


def test_scripts_are_never_stored(session, alice):
    with pytest.raises(InvalidURL):
        library.create_bookmark(session, alice, url="javascript:alert(1)")


def test_changing_the_url_onto_another_bookmark_is_a_duplicate(session, alice):
    library.create_bookmark(session, alice, url="https://a.example/")
    second = library.create_bookmark(session, alice, url="https://b.example/")
    with pytest.raises(library.DuplicateBookmark):
        library.update_bookmark(session, second, url="https://A.example")


def test_update_changes_only_the_given_fields(session, alice):
    bookmark = library.create_bookmark(
        session, alice, url="https://a.example/", title="T", notes="N", tags=["x"]
    )
    library.update_bookmark(session, bookmark, title="New", tags=["y", "Z"])
    assert (bookmark.title, bookmark.notes) == ("New", "N")
    assert {t.name for t in bookmark.tags} == {"Z", "y"}


def test_an_imported_date_is_kept(session, alice):
    added = datetime(2011, 5, 1, 12, tzinfo=UTC)
    bookmark = library.create_bookmark(session, alice, url="https://a.example/", created_at=added)
    session.refresh(bookmark)
    assert bookmark.created_at == added
    assert bookmark.updated_at == added


def test_get_bookmark_never_returns_someone_elses(session, alice, bob):
    bookmark = library.create_bookmark(session, alice, url="https://a.example/")
    assert library.get_bookmark(session, bob, bookmark.id) is None
    assert library.get_bookmark(session, alice, bookmark.id) is bookmark


def test_bulk_operations_touch_only_the_users_own_bookmarks(session, alice, bob):
    mine = library.create_bookmark(session, alice, url="https://a.example/", tags=["old"])
    theirs = library.create_bookmark(session, bob, url="https://b.example/")
    ids = [mine.id, theirs.id]
    assert library.bulk_tag(session, alice, ids, add=["new"], remove=["OLD"]) == 1
    assert [t.name for t in mine.tags] == ["new"]
    assert theirs.tags == []
    assert library.bulk_delete(session, alice, ids) == 1
    assert library.get_bookmark(session, bob, theirs.id) is not None
    assert library.get_bookmark(session, alice, mine.id) is None


def _urls(page):
    return [b.url for b in page.bookmarks]


def test_keyset_pages_walk_every_bookmark_once_newest_first(session, alice):
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(7):
        # Two bookmarks share each timestamp: the id breaks the tie.
        library.create_bookmark(
            session, alice, url=f"https://e.example/{i}", created_at=start + timedelta(days=i // 2)
        )
    seen, cursor = [], None
    while True:
        page = library.list_bookmarks(session, library.owned_by(alice), limit=3, cursor=cursor)
        seen += _urls(page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"https://e.example/{i}" for i in (6, 5, 4, 3, 2, 1, 0)]


def test_search_ranks_title_matches_first_and_honours_every_filter(session, alice, bob):
    def add(user, url, **fields):
        return library.create_bookmark(session, user, url=url, **fields)

    add(alice, "https://docs.example.org/k", description="a kettle review", tags=["tea"])
    add(alice, "https://www.example.org/k", title="Kettles compared", tags=["tea", "home"])
    add(alice, "https://other.net/k", title="kettle", unread=True, visibility=Visibility.PUBLIC)
    add(bob, "https://bob.example/k", title="kettle kettle", visibility=Visibility.PUBLIC)

    def found(text):
        page = library.list_bookmarks(session, library.owned_by(alice), parse_query(text), own=True)
        return _urls(page)

    assert found("kett") == [
        "https://other.net/k",
        "https://www.example.org/k",
        "https://docs.example.org/k",
    ]
    assert found("kettle #tea -#home") == ["https://docs.example.org/k"]
    assert found("site:example.org") == ["https://www.example.org/k", "https://docs.example.org/k"]
    assert found("is:unread") == ["https://other.net/k"]
    assert found("is:public") == ["https://other.net/k"]
    assert found('"kettle review"') == ["https://docs.example.org/k"]
    assert found('kettle -review -"compared"') == ["https://other.net/k"]
    assert found("'); DROP TABLE bookmarks; --") == []
    assert library.count_bookmarks(session, library.public()) == 2


def test_ranked_search_pages_with_a_cursor(session, alice):
    for i in range(5):
        library.create_bookmark(session, alice, url=f"https://e.example/{i}", title="kettle")
    query, cursor, seen = parse_query("kettle"), None, []
    for _ in range(3):
        page = library.list_bookmarks(
            session, library.owned_by(alice), query, limit=2, cursor=cursor
        )
        seen += _urls(page)
        cursor = page.next_cursor
    assert sorted(seen) == [f"https://e.example/{i}" for i in range(5)]
    assert cursor is None


def test_offset_pages_follow_the_same_order_as_cursor_pages(session, alice):
    for i in range(6):
        title = "kettle" if i % 2 else "other"
        library.create_bookmark(
            session, alice, url=f"https://e.example/{i}", title=title, description="kettle"
        )
    query, scope = parse_query("kettle"), library.owned_by(alice)
    everything = _urls(library.list_bookmarks(session, scope, query, limit=10))
    assert everything[:3] == [f"https://e.example/{i}" for i in (5, 3, 1)]  # title matches
    by_offset = [
        url
        for n in (0, 2, 4)
        for url in _urls(library.list_bookmarks(session, scope, query, limit=2, offset=n))
    ]
    assert by_offset == everything


def test_tag_counts_rename_and_merge(session, alice, bob):
    library.create_bookmark(session, alice, url="https://a.example/", tags=["py", "web"])
    library.create_bookmark(session, alice, url="https://b.example/", tags=["Python"])
    library.create_bookmark(session, bob, url="https://b.example/", tags=["py"])

    def counts(user):
        return {c.tag.name: c.count for c in tagging.tag_counts(session, user)}

    assert counts(alice) == {"py": 1, "Python": 1, "web": 1}
    py = tagging.get_tag(session, alice, "PY")
    merged = tagging.rename_tag(session, alice, py, "python")
    assert merged.name == "Python"
    assert counts(alice) == {"Python": 2, "web": 1}
    assert counts(bob) == {"py": 1}
    tagging.rename_tag(session, alice, merged, "Py3")
    assert counts(alice) == {"Py3": 2, "web": 1}
