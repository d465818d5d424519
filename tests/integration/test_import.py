"""Importing bookmark files into a real database: dry runs, merges, round trips, isolation."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from driftwood import importer, library
from driftwood.importer import import_bookmarks
from driftwood.models import Bookmark, Visibility
from driftwood.netscape import NetscapeBookmark, parse, render
from driftwood.transfer import exported_items

DATA = Path(__file__).parent.parent / "data" / "bookmarks"
ALL_FIXTURES = sorted(DATA.glob("*.html"))


def count(session, user) -> int:
    return session.scalar(select(func.count()).where(Bookmark.user_id == user.id))


def stored(session, user, url: str) -> Bookmark:
    bookmark = library.find_by_normalized_url(session, user, url)
    assert bookmark is not None, url
    return bookmark


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_imports_and_reports_every_entry(session, alice, path: Path) -> None:
    parsed = parse(path.read_bytes())
    dry = import_bookmarks(session, alice, parsed, dry_run=True)
    assert count(session, alice) == 0  # a dry run writes nothing
    report = import_bookmarks(session, alice, parsed, dry_run=False)
    assert report.added == dry.added
    assert report.rejected == dry.rejected
    assert count(session, alice) == len(report.added) > 0
    entries = len(report.added) + len(report.updated) + len(report.skipped) + len(report.rejected)
    assert entries == len(parsed.bookmarks) + len(parsed.rejected)
    again = import_bookmarks(session, alice, parsed, dry_run=False)
    assert (again.added, again.updated) == ([], [])
    assert count(session, alice) == len(report.added)


def test_firefox_file_is_stored_with_folders_dates_and_descriptions(session, alice) -> None:
    import_bookmarks(session, alice, parse((DATA / "firefox.html").read_bytes()), dry_run=False)
    compose = stored(session, alice, "https://docs.docker.com/compose/")
    assert compose.title == "Docker Compose overview | Docker Docs"
    assert compose.description == "Define and run multi-container applications."
    assert {t.name for t in compose.tags} == {"Dev-Tools", "Containers"}
    assert compose.created_at == datetime.fromtimestamp(1700000009, UTC)
    assert compose.visibility is Visibility.PRIVATE  # browsers do not say: private
    linkding = import_bookmarks(
        session, alice, parse((DATA / "linkding.html").read_bytes()), dry_run=False
    )
    assert len(linkding.added) == 3
    pinboard = stored(session, alice, "https://pinboard.in/api/")
    assert pinboard.unread
    public = stored(session, alice, "https://github.com/sissbruecker/linkding")
    assert public.visibility is Visibility.PUBLIC
    assert public.notes.startswith("Compare with Driftwood")


def test_a_stored_bookmark_only_gains_what_it_lacks(session, alice) -> None:
    library.create_bookmark(
        session,
        alice,
        url="https://docs.docker.com/compose",
        title="My own title",
        notes="keep me",
        tags=["mine"],
        unread=False,
        visibility=Visibility.PUBLIC,
    )
    parsed = parse((DATA / "firefox.html").read_bytes())
    report = import_bookmarks(session, alice, parsed, dry_run=True)
    (update,) = [e for e in report.updated if e.url == "https://docs.docker.com/compose/"]
    assert update.detail == "adds description, tags"
    import_bookmarks(session, alice, parsed, dry_run=False)
    compose = stored(session, alice, "https://docs.docker.com/compose/")
    assert (compose.title, compose.notes) == ("My own title", "keep me")
    assert compose.description == "Define and run multi-container applications."
    assert [t.name for t in compose.tags] == ["Containers", "Dev-Tools", "mine"]
    assert compose.visibility is Visibility.PUBLIC


def test_the_same_url_twice_in_a_file_is_merged(session, alice) -> None:
    data = (
        b'<DT><A HREF="https://a.example/x" TAGS="one">First</A>\n'
        b'<DT><A HREF="HTTPS://A.example/x/?utm_source=feed" TAGS="two,One">Second</A>\n'
        b"<DD>from the second\n"
    )
    report = import_bookmarks(session, alice, parse(data), dry_run=False)
    assert [(e.line, e.detail) for e in report.skipped] == [(2, "same URL as line 1")]
    bookmark = stored(session, alice, "https://a.example/x")
    assert (bookmark.title, bookmark.description) == ("First", "from the second")
    assert [t.name for t in bookmark.tags] == ["one", "two"]


def test_import_never_touches_another_users_bookmarks(session, alice, bob) -> None:
    theirs = library.create_bookmark(
        session, bob, url="https://docs.docker.com/compose/", title="", tags=["bobs"]
    )
    import_bookmarks(session, alice, parse((DATA / "firefox.html").read_bytes()), dry_run=False)
    session.refresh(theirs)
    assert theirs.title == ""
    assert [t.name for t in theirs.tags] == ["bobs"]
    assert count(session, bob) == 1
    assert stored(session, alice, "https://docs.docker.com/compose/").user_id == alice.id


def test_a_failure_midway_leaves_the_account_as_it_was(session, alice, monkeypatch) -> None:
    library.create_bookmark(session, alice, url="https://kept.example/")
    library.create_bookmark(session, alice, url="https://www.bbc.com/news", title="")

    def disk_full(*_args) -> None:  # after the bookmarks and the update are written
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_link_tags", disk_full)
    with pytest.raises(RuntimeError):
        import_bookmarks(session, alice, parse((DATA / "chrome.html").read_bytes()), dry_run=False)
    session.expire_all()
    stored = {b.url: b.title for b in session.scalars(select(Bookmark))}
    assert stored == {"https://kept.example/": "", "https://www.bbc.com/news": ""}


def test_export_then_import_gives_the_same_bookmarks(session, alice, bob) -> None:
    for url, visibility, unread in (
        ("https://a.example/", Visibility.PRIVATE, True),
        ("https://b.example/p?q=1&r=2", Visibility.SHARED, False),
        ("https://c.example/", Visibility.PUBLIC, False),
    ):
        library.create_bookmark(
            session,
            alice,
            url=url,
            title=f"Title <{url}>",
            description="line one\r\nline two & more",
            notes="notes",
            tags=["Python", "web"],
            unread=unread,
            visibility=visibility,
            created_at=datetime(2015, 3, 4, 5, 6, 7, tzinfo=UTC),
        )
    exported = exported_items(session, alice)
    report = import_bookmarks(session, bob, parse(render(exported).encode()), dry_run=False)
    assert (len(report.added), report.rejected) == (3, [])
    assert exported_items(session, bob) == exported


_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30).map(str.strip)
_items = st.lists(
    st.builds(
        NetscapeBookmark,
        url=st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9]{0,8}", fullmatch=True),
        title=_text,
        description=_text,
        tags=st.lists(st.from_regex(r"[A-Za-z0-9]{1,6}", fullmatch=True), max_size=3).map(tuple),
        unread=st.booleans(),
        visibility=st.sampled_from(["private", "shared", "public"]),
    ),
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=_items, second=_items)
def test_importing_never_loses_stored_data(session, alice, first, second) -> None:
    """Whatever a second file holds, every stored text and tag survives it."""
    with session.begin_nested() as attempt:
        import_bookmarks(session, alice, parse(render(first).encode()), dry_run=False)
        before = {(b.url_normalized, b.title, b.description) for b in _all(session, alice)}
        tags_before = {(b.url_normalized, t.name) for b in _all(session, alice) for t in b.tags}
        import_bookmarks(session, alice, parse(render(second).encode()), dry_run=False)
        after = {b.url_normalized: b for b in _all(session, alice)}
        for key, title, description in before:
            assert after[key].title == title or not title
            assert after[key].description == description or not description
        for key, tag in tags_before:
            assert tag.lower() in {t.name.lower() for t in after[key].tags}
        attempt.rollback()


def _all(session, user) -> list[Bookmark]:
    session.expire_all()
    return list(session.scalars(select(Bookmark).where(Bookmark.user_id == user.id)))


def test_a_file_with_more_tags_than_one_statement_can_create(session, alice, monkeypatch) -> None:
    monkeypatch.setattr(importer, "_TAG_CHUNK", 3)  # stands for PostgreSQL's parameter limit
    data = b"".join(
        b'<DT><A HREF="https://t%d.example/" TAGS="a%d,b%d,shared,Shared">x</A>\n' % (n, n, n)
        for n in range(4)
    )
    report = import_bookmarks(session, alice, parse(data), dry_run=False)
    assert len(report.added) == 4
    bookmark = stored(session, alice, "https://t3.example/")
    assert [t.name for t in bookmark.tags] == ["a3", "b3", "shared"]
