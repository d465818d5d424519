"""The linkding-compatible API: every response checked against openapi.yaml, and no route
that lets one user read or change another user's bookmarks."""

import io
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from driftwood import library
from driftwood.api.tokens import create_token, user_tokens
from driftwood.models import Visibility
from tests.integration.test_import_pages import CSRF, logged_in

DATA = Path(__file__).parent.parent / "data" / "bookmarks"
DOCUMENT = yaml.safe_load(resources.files("driftwood").joinpath("openapi.yaml").read_text())
_URI = "urn:driftwood:openapi"
_REGISTRY = Registry().with_resource(
    _URI, Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def conforms(response, path: str, method: str) -> None:
    """The response is one the document describes, with a body its schema accepts."""
    described = DOCUMENT["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in described, f"{method.upper()} {path} -> undocumented {status}"
    answer = described[status]
    location = ("paths", path, method, "responses", status)
    if "$ref" in answer:
        location = tuple(answer["$ref"].lstrip("#/").split("/"))
        answer = DOCUMENT["components"]["responses"][location[-1]]
    if "content" not in answer:
        assert not response.data
        return
    assert response.mimetype == "application/json", response.mimetype
    schema = {"$ref": _URI + "#" + _pointer(*location, "content", "application/json", "schema")}
    validator = Draft202012Validator(schema, registry=_REGISTRY, format_checker=FormatChecker())
    validator.validate(response.get_json())


def test_the_document_is_valid_openapi_shaped_json_schema() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def token_for(session, user) -> str:
    _, key = create_token(session, user, "tests")
    session.commit()
    return key


class Api:
    """A test client that sends one user's token, and checks every answer against the
    document."""

    def __init__(self, client, key: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Token {key}"} if key else {}

    def call(self, method: str, url: str, documented: str, **kwargs):
        response = self.client.open(url, method=method.upper(), headers=self.headers, **kwargs)
        conforms(response, documented, method)
        return response


@pytest.fixture
def as_alice(app, session, alice) -> Api:
    return Api(app.test_client(), token_for(session, alice))


@pytest.fixture
def as_bob(app, session, bob) -> Api:
    return Api(app.test_client(), token_for(session, bob))


BOOKMARKS, ONE = "/api/bookmarks/", "/api/bookmarks/{id}/"


def test_tokens_are_required_and_checked(app, session, alice) -> None:
    key = token_for(session, alice)
    for headers in ({}, {"Authorization": "Token nope"}, {"Authorization": f"Basic {key}"}):
        response = app.test_client().get(BOOKMARKS, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Token"
        conforms(response, BOOKMARKS, "get")
    bearer = app.test_client().get(BOOKMARKS, headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200


def test_create_read_update_delete(as_alice: Api) -> None:
    created = as_alice.call(
        "post",
        BOOKMARKS,
        BOOKMARKS,
        json={
            "url": "https://example.org/article",
            "title": "An article",
            "notes": "read later",
            "unread": True,
            "tag_names": ["Reading", "web"],
        },
    )
    assert created.status_code == 201
    bookmark = created.get_json()
    assert bookmark["tag_names"] == ["Reading", "web"]
    assert (bookmark["shared"], bookmark["visibility"]) == (False, "private")
    url = ONE.replace("{id}", str(bookmark["id"]))

    again = as_alice.call(
        "post", BOOKMARKS, BOOKMARKS, json={"url": "https://EXAMPLE.org/article/", "shared": True}
    )
    assert again.get_json()["id"] == bookmark["id"]  # linkding: posting again updates
    assert again.get_json()["title"] == "An article"
    assert again.get_json()["visibility"] == "shared"

    assert as_alice.call("get", url, ONE).get_json()["notes"] == "read later"
    patched = as_alice.call("patch", url, ONE, json={"title": "Renamed", "visibility": "public"})
    assert (patched.get_json()["title"], patched.get_json()["notes"]) == ("Renamed", "read later")
    assert patched.get_json()["shared"] is True
    put = as_alice.call("put", url, ONE, json={"title": "No URL"})
    assert put.status_code == 400
    assert put.get_json() == {"url": ["This field is required."]}
    assert as_alice.call("delete", url, ONE).status_code == 204
    assert as_alice.call("get", url, ONE).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://x.example/", "unread": "yes"}, "unread"),
        ({"url": "https://x.example/", "tag_names": "a,b"}, "tag_names"),
        ({"url": "https://x.example/", "visibility": "everyone"}, "visibility"),
        ({"title": "no url"}, "url"),
    ],
)
def test_invalid_bodies_say_which_field(as_alice: Api, body, field: str) -> None:
    response = as_alice.call("post", BOOKMARKS, BOOKMARKS, json=body)
    assert response.status_code == 400
    assert list(response.get_json()) == [field]


def test_list_search_and_pages(session, alice, as_alice: Api) -> None:
    for n in range(5):
        library.create_bookmark(
            session,
            alice,
            url=f"https://site{n}.example/",
            title=f"Docker tip {n}" if n % 2 else f"Cooking {n}",
            tags=["docker"] if n % 2 else [],
        )
    session.commit()
    first = as_alice.call("get", BOOKMARKS + "?limit=2", BOOKMARKS).get_json()
    assert (first["count"], len(first["results"]), first["previous"]) == (5, 2, None)
    assert "offset=2" in first["next"]
    last = as_alice.call("get", BOOKMARKS + "?limit=2&offset=4", BOOKMARKS).get_json()
    assert (len(last["results"]), last["next"]) == (1, None)
    assert "offset=2" in last["previous"]
    found = as_alice.call("get", BOOKMARKS + "?q=" + quote("#docker tip"), BOOKMARKS)
    assert sorted(b["title"] for b in found.get_json()["results"]) == [
        "Docker tip 1",
        "Docker tip 3",
    ]
    assert as_alice.call("get", BOOKMARKS + "?limit=x", BOOKMARKS).status_code == 400
    assert as_alice.call("get", BOOKMARKS + "?added_since=x", BOOKMARKS).status_code == 400
    later = quote(datetime.now(UTC).isoformat())
    since = as_alice.call("get", f"{BOOKMARKS}?modified_since={later}", BOOKMARKS).get_json()
    assert since["count"] == 0
    early = as_alice.call("get", BOOKMARKS + "?added_since=2000-01-01T00:00:00Z", BOOKMARKS)
    assert early.get_json()["count"] == 5
    archived = as_alice.call("get", "/api/bookmarks/archived/", "/api/bookmarks/archived/")
    assert archived.get_json()["count"] == 0


def test_check(session, alice, as_alice: Api) -> None:
    check = "/api/bookmarks/check/"
    missing = as_alice.call("get", check + "?url=https://new.example/", check).get_json()
    assert missing["bookmark"] is None
    library.create_bookmark(session, alice, url="https://known.example/a", title="Known")
    session.commit()
    known = as_alice.call("get", check + "?url=" + quote("KNOWN.example/a/"), check).get_json()
    assert known["bookmark"]["title"] == known["metadata"]["title"] == "Known"


def test_tags_and_profile(session, alice, as_alice: Api) -> None:
    library.create_bookmark(session, alice, url="https://a.example/", tags=["python", "Web"])
    session.commit()
    tags = as_alice.call("get", "/api/tags/", "/api/tags/").get_json()
    assert [t["name"] for t in tags["results"]] == ["python", "Web"]
    assert all(t["date_added"] for t in tags["results"])
    created = as_alice.call("post", "/api/tags/", "/api/tags/", json={"name": "new tag"})
    assert (created.status_code, created.get_json()["name"]) == (201, "new-tag")
    assert created.get_json()["date_added"] is None
    one = "/api/tags/{id}/"
    tag_id = created.get_json()["id"]
    assert as_alice.call("get", f"/api/tags/{tag_id}/", one).get_json()["name"] == "new-tag"
    assert (
        as_alice.call("post", "/api/tags/", "/api/tags/", json={"name": " , "}).status_code == 400
    )
    profile = as_alice.call("get", "/api/user/profile/", "/api/user/profile/").get_json()
    assert profile["username"] == "alice"


def test_import_and_export_through_the_api(app, as_alice: Api) -> None:
    path = "/api/bookmarks/import/"
    firefox = (DATA / "firefox.html").read_bytes()
    dry = as_alice.call("post", path + "?dry_run=true", path, data=firefox).get_json()
    assert (dry["dry_run"], len(dry["added"]), len(dry["rejected"])) == (True, 8, 2)
    assert dry["rejected"][0]["line"] == 13
    export = "/api/bookmarks/export/"
    assert as_alice.call("get", export, export).get_json()["bookmarks"] == []
    upload = {"file": (io.BytesIO(firefox), "bookmarks.html")}
    done = as_alice.call("post", path, path, data=upload, content_type="multipart/form-data")
    assert (
        done.get_json()["summary"]
        == "8 were added, 0 were updated, 0 duplicates skipped, 2 rejected"
    )
    assert len(as_alice.call("get", export, export).get_json()["bookmarks"]) == 8
    html = as_alice.client.get(export + "?format=html", headers=as_alice.headers)
    assert html.text.count("<DT><A ") == 8
    assert as_alice.call("post", path, path).status_code == 400
    app.config["MAX_IMPORT_BYTES"] = 100
    too_big = as_alice.call("post", path, path, data=firefox)
    assert too_big.status_code == 413
    assert "import limit" in too_big.get_json()["detail"]


def test_openapi_document_is_served_without_a_token(app) -> None:
    response = app.test_client().get("/api/openapi.yaml")
    assert response.status_code == 200
    assert yaml.safe_load(response.data) == DOCUMENT


def test_no_route_reaches_another_users_bookmarks(session, alice, as_alice, as_bob) -> None:
    private = library.create_bookmark(
        session, alice, url="https://alice.example/private", title="Secret", tags=["alices-tag"]
    )
    public = library.create_bookmark(
        session, alice, url="https://alice.example/public", visibility=Visibility.PUBLIC
    )
    session.commit()
    for bookmark in (private, public):
        url = ONE.replace("{id}", str(bookmark.id))
        assert as_bob.call("get", url, ONE).status_code == 404
        assert as_bob.call("patch", url, ONE, json={"title": "pwned"}).status_code == 404
        put = as_bob.call("put", url, ONE, json={"url": "https://bob.example/", "title": "pwned"})
        assert put.status_code == 404
        assert as_bob.call("delete", url, ONE).status_code == 404
    assert as_bob.call("get", BOOKMARKS, BOOKMARKS).get_json()["count"] == 0
    searched = as_bob.call("get", BOOKMARKS + "?q=Secret", BOOKMARKS).get_json()
    assert searched["count"] == 0
    check = "/api/bookmarks/check/"
    assert (
        as_bob.call("get", check + "?url=https://alice.example/private", check).get_json()[
            "bookmark"
        ]
        is None
    )
    assert as_bob.call("get", "/api/tags/", "/api/tags/").get_json()["count"] == 0
    tag_id = private.tags[0].id
    assert as_bob.call("get", f"/api/tags/{tag_id}/", "/api/tags/{id}/").status_code == 404
    export = "/api/bookmarks/export/"
    assert as_bob.call("get", export, export).get_json()["bookmarks"] == []
    # Bob saving the same URL gets his own bookmark; Alice's stays untouched.
    mine = as_bob.call("post", BOOKMARKS, BOOKMARKS, json={"url": "https://alice.example/private"})
    assert mine.get_json()["id"] != private.id
    session.refresh(private)
    assert (private.title, [t.name for t in private.tags]) == ("Secret", ["alices-tag"])
    assert as_alice.call("get", BOOKMARKS, BOOKMARKS).get_json()["count"] == 2


def test_token_page_shows_a_key_once_and_revokes_it(app, session, alice, bob) -> None:
    page = logged_in(app, "alice")
    created = page.post("/settings/api-tokens", data={"name": "laptop", "csrf_token": CSRF})
    key = re.search(r'id="new-key" value="([0-9a-f]{40})"', created.text).group(1)
    assert f"alice:{key}" in created.text  # the Pinboard form
    api = Api(app.test_client(), key)
    assert api.call("get", BOOKMARKS, BOOKMARKS).status_code == 200
    listed = page.get("/settings/api-tokens").text
    assert "laptop" in listed
    assert key not in listed  # shown once, never again
    (token,) = user_tokens(session, alice)
    revoke = f"/settings/api-tokens/{token.id}/revoke"
    assert logged_in(app, "bob").post(revoke, data={"csrf_token": CSRF}).status_code == 302
    assert api.call("get", BOOKMARKS, BOOKMARKS).status_code == 200  # Bob cannot revoke it
    assert page.post(revoke, data={"csrf_token": CSRF}).status_code == 302
    assert api.call("get", BOOKMARKS, BOOKMARKS).status_code == 401
    assert page.post(revoke).status_code == 403  # CSRF applies to the token page
