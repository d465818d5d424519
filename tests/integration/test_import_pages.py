"""The import and export pages: dry run, import, size limit, downloads, and who sees what."""

import io
import json
from pathlib import Path

import pytest

from driftwood import library
from driftwood.accounts import create_user
from driftwood.models import Visibility
from driftwood.netscape import parse
from tests.integration.conftest import PASSWORD

DATA = Path(__file__).parent.parent / "data" / "bookmarks"
CSRF = "test-csrf-token"


@pytest.fixture
def bob(session):
    user = create_user(session, "bob", PASSWORD)
    library.create_bookmark(session, user, url="https://bob.example/secret", title="Bob's")
    session.commit()
    return user


def logged_in(app, username: str):
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["csrf_token"] = CSRF
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": CSRF},
    )
    assert response.status_code == 302, response.text
    with client.session_transaction() as cookie:
        cookie["csrf_token"] = CSRF  # a login starts a new session
    return client


def upload(client, name: str, action: str, data: bytes | None = None):
    content = data if data is not None else (DATA / name).read_bytes()
    return client.post(
        "/import",
        data={"csrf_token": CSRF, "action": action, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_preview_then_import(app, session, alice) -> None:
    client = logged_in(app, "alice")
    form = client.get("/import").text
    assert "Import a bookmark file" in form
    assert "at most 20 MiB" in form
    preview = upload(client, "firefox.html", "preview")
    assert preview.status_code == 200
    assert "8 would be added, 0 would be updated, 0 duplicates skipped, 2 rejected" in preview.text
    assert "only http:// and https:// URLs can be bookmarked" in preview.text
    assert library.count_bookmarks(session, library.owned_by(alice)) == 0
    done = upload(client, "firefox.html", "import")
    assert "8 were added" in done.text
    assert library.count_bookmarks(session, library.owned_by(alice)) == 8
    again = upload(client, "firefox.html", "preview")
    assert "0 would be added, 0 would be updated, 8 duplicates skipped" in again.text


def test_import_needs_csrf_and_login(app, alice) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/import").status_code == 302
    client = logged_in(app, "alice")
    response = client.post(
        "/import",
        data={"action": "import", "file": (io.BytesIO(b""), "x.html")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403


def test_a_file_over_the_limit_is_refused_with_413(app, alice) -> None:
    app.config["MAX_IMPORT_BYTES"] = 1000
    client = logged_in(app, "alice")
    response = upload(client, "big.html", "import", b"<DT>" * 1000)
    assert response.status_code == 413
    assert "larger than the import limit of 1000 bytes" in response.text


def test_missing_file(app, alice) -> None:
    client = logged_in(app, "alice")
    response = client.post("/import", data={"csrf_token": CSRF, "action": "import"})
    assert response.status_code == 400
    assert "Choose a bookmark file" in response.text


def test_exports_hold_only_the_users_own_bookmarks(app, session, alice, bob) -> None:
    library.create_bookmark(
        session,
        alice,
        url="https://alice.example/",
        title="Alice's",
        tags=["mine"],
        visibility=Visibility.SHARED,
    )
    session.commit()
    client = logged_in(app, "alice")
    html = client.get("/export.html")
    assert html.headers["Content-Disposition"].startswith('attachment; filename="driftwood-alice-')
    (bookmark,) = parse(html.data).bookmarks
    assert (bookmark.url, bookmark.tags, bookmark.visibility) == (
        "https://alice.example/",
        ("mine",),
        "shared",
    )
    document = json.loads(client.get("/export.json").data)
    assert [b["url"] for b in document["bookmarks"]] == ["https://alice.example/"]
    assert "bob.example" not in html.text + json.dumps(document)
    assert app.test_client().get("/export.json").status_code == 302
