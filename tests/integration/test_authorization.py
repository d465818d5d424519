"""Bob walks every route of the web UI and the feeds, and never sees or changes
Alice's private bookmarks (nor her shared ones where only the public may show)."""

import pytest

from driftwood import library, tagging
from driftwood.models import Visibility
from tests.integration.conftest import form_post

SECRET = "alice-secret-kettle"


@pytest.fixture
def private(session, alice):
    return library.create_bookmark(
        session, alice, url="https://alice.example/private", title=SECRET, tags=["secret-tag"]
    )


@pytest.fixture
def shared(session, alice):
    return library.create_bookmark(
        session,
        alice,
        url="https://alice.example/shared",
        title="alice-shared-teapot",
        visibility=Visibility.SHARED,
    )


@pytest.fixture
def as_bob(client, bob, login):
    login(client, bob)
    return client


def test_bob_cannot_read_alices_private_bookmark_anywhere(as_bob, private, shared):
    for url in (
        "/",
        f"/?q={SECRET}",
        "/?q=%23secret-tag",
        "/?q=site:alice.example",
        "/shared",
        f"/shared?q={SECRET}",
        "/public",
        "/u/alice",
        "/u/alice?q=is:private",
        "/tags/",
        "/feeds/public.atom",
        "/feeds/public.rss",
        "/u/alice/feed.atom",
        "/u/alice/feed.rss",
        "/feeds/tags/secret-tag.atom",
        "/export.html",
        "/export.json",
    ):
        body = as_bob.get(url).get_data(as_text=True)
        assert "alice.example/private" not in body, url
        if SECRET not in url:  # pages echo the search query back
            assert SECRET not in body, url
    assert as_bob.get(f"/bookmarks/{private.id}/edit").status_code == 404
    # Shared is for signed-in users of the instance: on /shared, never in public places.
    assert "alice-shared-teapot" in as_bob.get("/shared").get_data(as_text=True)
    for url in ("/public", "/u/alice", "/feeds/public.atom", "/u/alice/feed.rss"):
        assert "alice-shared-teapot" not in as_bob.get(url).get_data(as_text=True), url


def test_bob_cannot_change_alices_bookmarks_or_tags(session, as_bob, alice, private):
    assert (
        form_post(
            as_bob, f"/bookmarks/{private.id}/edit", {"url": "https://evil.example/", "title": "x"}
        ).status_code
        == 404
    )
    assert form_post(as_bob, f"/bookmarks/{private.id}/delete").status_code == 404
    for action in ("delete", "unread"):
        form_post(as_bob, "/bookmarks/bulk", {"ids": [str(private.id)], "action": action})
    form_post(
        as_bob, "/bookmarks/bulk", {"ids": [str(private.id)], "action": "tag", "tags": "pwned"}
    )
    tag = tagging.get_tag(session, alice, "secret-tag")
    assert form_post(as_bob, f"/tags/{tag.id}/rename", {"name": "x"}).status_code == 404
    assert form_post(as_bob, f"/tags/{tag.id}/delete").status_code == 404
    assert (
        form_post(as_bob, "/tags/merge", {"ids": [str(tag.id)], "target": "mine"}).status_code
        == 404
    )
    session.expire_all()
    kept = library.get_bookmark(session, alice, private.id)
    assert kept is not None
    assert (kept.url, kept.title, kept.unread) == ("https://alice.example/private", SECRET, False)
    assert [t.name for t in kept.tags] == ["secret-tag"]


def test_anonymous_visitors_are_sent_to_log_in(client, private):
    for url in ("/", "/shared", "/tags/", f"/bookmarks/{private.id}/edit", "/bookmarks/new"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login")
    assert SECRET not in client.get("/public").get_data(as_text=True)
