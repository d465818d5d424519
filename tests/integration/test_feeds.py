"""Public pages and RSS/Atom feeds show public bookmarks only."""

import html
import re
import xml.etree.ElementTree as ET

import pytest

from driftwood import library
from driftwood.models import Visibility

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def bookmarks(session, alice, bob):
    for user in (alice, bob):
        for visibility in Visibility:
            library.create_bookmark(
                session,
                user,
                url=f"https://{user.username}.example/{visibility.value}",
                title=f"{user.username} {visibility.value} & co",
                tags=["news"] if visibility is Visibility.PUBLIC else ["other"],
                visibility=visibility,
            )


def titles_in_atom(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)  # noqa: S314 - our own output
    return sorted(entry.findtext(f"{ATOM}title") for entry in root.iter(f"{ATOM}entry"))


def test_the_public_feed_has_everyones_public_bookmarks_only(client, bookmarks):
    assert titles_in_atom(client, "/feeds/public.atom") == [
        "alice public & co",
        "bob public & co",
    ]


def test_a_user_feed_and_a_tag_feed(client, bookmarks):
    assert titles_in_atom(client, "/u/alice/feed.atom") == ["alice public & co"]
    assert titles_in_atom(client, "/feeds/tags/news.atom") == [
        "alice public & co",
        "bob public & co",
    ]
    assert titles_in_atom(client, "/feeds/tags/other.atom") == []


@pytest.mark.parametrize("tag", ["ci/cd", "/etc", "a//b/", "c++#?%", "node.js"])
def test_any_tag_has_a_feed_linked_from_the_public_page(client, session, alice, tag):
    for title, tags in (("wanted", [tag]), ("near miss", ["ci", "etc", "a", "node"])):
        library.create_bookmark(
            session,
            alice,
            url=f"https://alice.example/{len(tags)}",
            title=title,
            tags=tags,
            visibility=Visibility.PUBLIC,
        )
    page = client.get("/public", query_string={"q": f"#{tag}"}).text
    links = [html.unescape(link) for link in re.findall(r'href="(/feeds/tags/[^"]+)"', page)]
    assert len(links) == 3  # <link rel="alternate">, then Atom and RSS
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        assert "wanted" in response.text and "near miss" not in response.text, link
    assert "/feeds/tags/" not in client.get("/public", query_string={"q": f"#{tag} word"}).text


def test_rss(client, bookmarks):
    response = client.get("/u/bob/feed.rss")
    assert response.mimetype == "application/rss+xml"
    items = ET.fromstring(response.data).findall("./channel/item")  # noqa: S314
    assert [item.findtext("title") for item in items] == ["bob public & co"]
    assert items[0].findtext("link") == "https://bob.example/public"


def test_public_pages(client, bookmarks):
    everyone = client.get("/public").get_data(as_text=True)
    assert "alice public &amp; co" in everyone
    assert "bob public &amp; co" in everyone
    assert "private" not in everyone.split("<main", 1)[1].replace("is:private", "")
    assert "shared &amp; co" not in everyone
    alice_page = client.get("/u/ALICE").get_data(as_text=True)
    assert "alice public &amp; co" in alice_page
    assert "bob public" not in alice_page
    assert client.get("/u/nobody").status_code == 404


UNREAD_BADGE = '<span class="badge">unread</span>'


def test_the_unread_state_is_shown_to_its_owner_only(app, client, session, alice, bob, login):
    for visibility in (Visibility.PUBLIC, Visibility.SHARED):
        library.create_bookmark(
            session,
            alice,
            url=f"https://alice.example/later-{visibility.value}",
            title=f"later {visibility.value}",
            unread=True,
            visibility=visibility,
        )
    for page in ("/public", "/u/alice"):
        assert "later public" in client.get(page).text
        assert UNREAD_BADGE not in client.get(page).text, page
    for feed in ("/feeds/public.atom", "/feeds/public.rss", "/u/alice/feed.atom"):
        assert "unread" not in client.get(feed).text, feed
    # Nor can a search of someone else's bookmarks tell read from unread: the filter is
    # ignored there, so the unread bookmark is found either way.
    for read_state in ("is:read", "is:unread"):
        assert titles_in_atom(client, f"/feeds/public.atom?q={read_state}") == ["later public"]
        assert "later public" in client.get(f"/public?q={read_state}").text

    as_bob = app.test_client()
    login(as_bob, bob)
    for page in ("/shared", "/shared?q=is:read", "/public", "/u/alice"):
        assert "later public" in as_bob.get(page).text, page
        assert UNREAD_BADGE not in as_bob.get(page).text, page
    as_alice = app.test_client()
    login(as_alice, alice)
    for page in ("/", "/shared", "/u/alice"):
        assert UNREAD_BADGE in as_alice.get(page).text, page
    assert "later public" not in as_alice.get("/?q=is:read").text  # her own: it filters
