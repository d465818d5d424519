"""The bookmark pages, driven like a browser without JavaScript would."""

import pytest

from driftwood import library
from driftwood.models import Visibility
from tests.integration.conftest import form_post


@pytest.fixture
def signed_in(client, alice, login):
    login(client, alice)
    return client


def add(client, **fields):
    data = {"url": "https://example.org/", "title": "", "tags": "", "visibility": "private"}
    return form_post(client, "/bookmarks/new", {**data, **fields})


def test_add_then_find_it_in_the_list(signed_in):
    response = add(signed_in, url="https://example.org/kettle", title="Kettles", tags="tea home")
    assert response.status_code == 302
    page = signed_in.get("/").get_data(as_text=True)
    assert "Kettles" in page
    assert "#tea" in page


def test_adding_a_url_again_offers_the_existing_bookmark(session, signed_in, alice):
    add(signed_in, url="https://example.org/a", title="First")
    [existing] = library.list_bookmarks(session, library.owned_by(alice)).bookmarks
    response = add(signed_in, url="HTTPS://EXAMPLE.org/a/")
    assert response.status_code == 409
    assert f"/bookmarks/{existing.id}/edit" in response.get_data(as_text=True)


def test_the_bookmarklet_prefills_the_form_and_warns_about_a_duplicate(signed_in):
    fresh = signed_in.get("/bookmarks/new?url=https://example.org/b&title=Bee").get_data(
        as_text=True
    )
    assert 'value="https://example.org/b"' in fresh
    assert 'value="Bee"' in fresh
    assert "saved this URL already" not in fresh
    add(signed_in, url="https://example.org/b")
    again = signed_in.get("/bookmarks/new?url=https://example.org/b").get_data(as_text=True)
    assert "saved this URL already" in again
    assert "javascript:void(window.open(" in again  # the bookmarklet itself


def test_a_script_url_is_refused(signed_in):
    response = add(signed_in, url="javascript:alert(document.cookie)")
    assert response.status_code == 422
    # As written, made a sentence: "URLs", not str.capitalize()'s "urls".
    assert "Only http:// and https:// URLs can be bookmarked." in response.get_data(as_text=True)


def test_everything_is_escaped(signed_in):
    add(signed_in, url="https://example.org/x", title="<script>alert(1)</script>")
    page = signed_in.get("/").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_edit_and_delete(session, signed_in, alice):
    add(signed_in, url="https://example.org/e", title="Old")
    [bookmark] = library.list_bookmarks(session, library.owned_by(alice)).bookmarks
    assert 'value="Old"' in signed_in.get(f"/bookmarks/{bookmark.id}/edit").get_data(as_text=True)
    edited = form_post(
        signed_in,
        f"/bookmarks/{bookmark.id}/edit",
        {
            "url": "https://example.org/e",
            "title": "New",
            "tags": "t",
            "visibility": "public",
            "unread": "on",
        },
    )
    assert edited.status_code == 302
    session.expire_all()
    assert (bookmark.title, bookmark.visibility, bookmark.unread) == (
        "New",
        Visibility.PUBLIC,
        True,
    )
    form_post(signed_in, f"/bookmarks/{bookmark.id}/delete")
    assert library.get_bookmark(session, alice, bookmark.id) is None


def test_bulk_tag_mark_and_delete(session, signed_in, alice):
    for i in range(3):
        add(signed_in, url=f"https://example.org/{i}")
    ids = [str(b.id) for b in library.list_bookmarks(session, library.owned_by(alice)).bookmarks]
    form_post(signed_in, "/bookmarks/bulk", {"ids": ids[:2], "action": "tag", "tags": "batch"})
    assert signed_in.get("/?q=%23batch").get_data(as_text=True).count('class="bookmark"') == 2
    form_post(signed_in, "/bookmarks/bulk", {"ids": ids[:1], "action": "unread"})
    assert signed_in.get("/?q=is:unread").get_data(as_text=True).count('class="bookmark"') == 1
    form_post(signed_in, "/bookmarks/bulk", {"ids": ids, "action": "read"})
    assert signed_in.get("/?q=is:unread").get_data(as_text=True).count('class="bookmark"') == 0
    form_post(signed_in, "/bookmarks/bulk", {"ids": ids, "action": "delete"})
    assert library.count_bookmarks(session, library.owned_by(alice)) == 0


def test_pages_follow_the_cursor(app, signed_in):
    app.config["PAGE_SIZE"] = 2
    for i in range(5):
        add(signed_in, url=f"https://example.org/p{i}", title=f"Page item {i}")
    seen, url = [], "/"
    while True:
        page = signed_in.get(url).get_data(as_text=True)
        seen += [f"Page item {i}" for i in range(5) if f"Page item {i}<" in page]
        marker = 'rel="next" href="'
        if marker not in page:
            break
        url = "/" + page.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert sorted(seen) == [f"Page item {i}" for i in range(5)]
    assert len(seen) == 5


def test_search_from_the_list(signed_in):
    add(signed_in, url="https://example.org/k", title="Electric kettle")
    add(signed_in, url="https://example.org/t", title="Teapot")
    page = signed_in.get("/?q=kett").get_data(as_text=True).split('<ol class="bookmarks">')[1]
    assert "Electric kettle" in page
    assert "Teapot" not in page
