"""Isolation: Bob, and a visitor who is not signed in, walk every route the app registers
and can never read, change or delete Alice's private bookmarks through any of them.

The walk iterates `app.url_map`, so a new route is walked as soon as it exists: a route
with a URL parameter the walk cannot fill fails the test until the walk learns it. Every
request aims at Alice's data (her ids in the path and in forms, her URL and tag in the
query) and carries Bob's credentials (session cookie, CSRF token, API token). Each answer
is searched for what Bob must never see; afterwards everything Alice owns is compared with
what she owned before.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from driftwood import library
from driftwood.api.tokens import create_token
from driftwood.models import ApiToken, Bookmark, Tag, User, Visibility
from driftwood.tagging import get_tag
from tests.integration.conftest import PASSWORD

# Alice's private bookmark: none of these texts may reach anyone else. The tag the walk
# filters by is sent in requests (and may be echoed back); her second tag never is.
PRIVATE = {
    "url": "https://alice.example/private-kettle",
    "title": "Alice private kettle",
    "description": "alice private description",
    "notes": "alice private notes",
    "tags": ["alice-secret-tag", "alice-hidden-tag"],
}
NOTES_WORD = "zebranote"  # only in the notes of her shared and public bookmarks
SHARED = {
    "url": "https://alice.example/shared-teapot",
    "title": "Alice shared teapot",
    "notes": f"alice shared notes {NOTES_WORD}",
    "visibility": Visibility.SHARED,
}
PUBLIC = {
    "url": "https://alice.example/public-lamp",
    "title": "Alice public lamp",
    "notes": f"alice public notes {NOTES_WORD}",
    "visibility": Visibility.PUBLIC,
}
# Notes are the owner's alone, even on a shared or public bookmark.
NEVER_SEEN = (
    PRIVATE["url"],
    PRIVATE["title"],
    PRIVATE["description"],
    PRIVATE["notes"],
    "alice-hidden-tag",
    SHARED["notes"],
    PUBLIC["notes"],
)
# Shared bookmarks are for the signed-in users of the instance, never for visitors.
NOT_FOR_VISITORS = (SHARED["url"], SHARED["title"])

# Her URL as another spelling of it (same normalised form): lookups by URL are aimed at
# her bookmark, while an echo of what was sent can never contain her exact URL.
AIMED_URL = "HTTPS://ALICE.EXAMPLE/private-kettle/?utm_source=bob"
AIMED_TAG = "alice-secret-tag"
# The search box, as Bob would try it: her title word, her tag, her site, her notes.
QUERIES = ("kettle", f"#{AIMED_TAG}", "site:alice.example", "is:private", NOTES_WORD)

# Routes anyone may call without signing in, and why that is safe.
PUBLIC_ROUTES = {
    "auth.login": "the way in",
    "auth.signup": "creating an account (DRIFTWOOD_SIGNUP_ENABLED can close it)",
    "auth.logout": "ends whatever session the browser has; nothing without one",
    "feeds.public_page": "public bookmarks, by design",
    "feeds.user_page": "one user's public bookmarks, by design",
    "feeds.public_feed": "the feed of public bookmarks",
    "feeds.user_feed": "the feed of one user's public bookmarks",
    "feeds.tag_feed": "the feed of public bookmarks with a tag",
    "ops.healthz": "liveness probe: no data",
    "ops.readyz": "readiness probe: no data",
    "ops.metrics": "request counts and latencies by endpoint, never bookmark data",
    "api_document.openapi": "the API's description: no data",
    "static": "the stylesheet",
}
# Routes that act differently on a form field: every action is tried.
VARIANTS: dict[str, list[dict[str, str]]] = {
    "bookmarks.bulk": [
        {"action": action} for action in ("delete", "read", "unread", "tag", "untag")
    ],
    "transfer.index": [{"action": "preview"}, {"action": "import"}],
}
# A GET is tried with every search and both output formats (JSON/XML, JSON/HTML).
READ_VARIANTS = [{"q": q} for q in QUERIES] + [{"format": "json"}, {"format": "html"}]
UPLOADS = {"api_bookmarks.import_file"}  # API routes that take a file, not JSON
IMPORT_FILE = f'<DL><p><DT><A HREF="{AIMED_URL}" TAGS="{AIMED_TAG}">bob import</A></DL>'.encode()
CSRF = "walk-csrf-token"


@dataclass
class Alice:
    bookmarks: list[Bookmark]
    tag: Tag
    token: ApiToken


@dataclass
class Visitor:
    """A browser (and API client) with fixed credentials: its cookie is put back before
    every request, so that walking /logout or /login does not change who is asking."""

    name: str
    client: Any
    cookie: str
    api_key: str | None
    forbidden: tuple[str, ...]
    walked: list[str] = field(default_factory=list)

    def send(self, method: str, rule: Rule, url: str, fields: dict[str, Any]) -> Any:
        self.client.set_cookie("session", self.cookie)
        headers = {"Authorization": f"Token {self.api_key}"} if self.api_key else {}
        self.walked.append(f"{method} {url}")
        if method == "GET":
            return self.client.get(url, query_string=fields, headers=headers)
        if rule.rule.startswith("/api/") and rule.endpoint not in UPLOADS:
            return self.client.open(url, method=method, json=fields, headers=headers)
        form = {**fields, "csrf_token": CSRF, "file": (io.BytesIO(IMPORT_FILE), "b.html")}
        return self.client.open(url, method=method, data=form, headers=headers)


def holdings(session: Session, user: User) -> dict[str, Any]:
    """Everything a user owns, as plain values, to compare before and after the walk.
    The failed-login counter is left out: anyone may fail to log in as anyone (that is
    what the lockout counts), and it holds no data."""
    session.expire_all()
    bookmarks = list(
        session.scalars(select(Bookmark).where(Bookmark.user_id == user.id).order_by(Bookmark.id))
    )
    tags = session.scalars(select(Tag).where(Tag.user_id == user.id).order_by(Tag.id))
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id))
    account = session.get_one(User, user.id)
    return {
        "account": (account.username, account.password_hash),
        "bookmarks": [
            (b.id, b.url, b.title, b.description, b.notes, b.unread, b.visibility)
            for b in bookmarks
        ],
        "dates": [(b.created_at, b.updated_at) for b in bookmarks],
        "tagged": [[t.name for t in b.tags] for b in bookmarks],
        "tags": [(t.id, t.name) for t in tags],
        "tokens": [(t.id, t.name, t.key_hash, t.last_used_at) for t in tokens],
    }


@pytest.fixture
def alices(session: Session, alice: User) -> Alice:
    bookmarks = [
        library.create_bookmark(session, alice, **fields) for fields in (PRIVATE, SHARED, PUBLIC)
    ]
    token, _ = create_token(session, alice, "alice's laptop")
    session.commit()
    tag = get_tag(session, alice, AIMED_TAG)
    assert tag is not None
    return Alice(bookmarks, tag, token)


def _visitor(app: Flask, session: Session, user: User | None) -> Visitor:
    client = app.test_client()
    key = None
    if user is not None:
        with client.session_transaction() as cookie:
            cookie["csrf_token"] = CSRF
        form = {"username": user.username, "password": PASSWORD, "csrf_token": CSRF}
        assert client.post("/login", data=form).status_code == 302
        _, key = create_token(session, user, "bob's script")
        session.commit()
    with client.session_transaction() as cookie:
        cookie["csrf_token"] = CSRF  # logging in starts a new session
    forbidden = NEVER_SEEN if user is not None else NEVER_SEEN + NOT_FOR_VISITORS
    name = user.username if user is not None else "a visitor"
    return Visitor(name, client, client.get_cookie("session").value, key, forbidden)


def _urls(app: Flask, rule: Rule, alice: Alice) -> Iterator[str]:
    """The rule's URL for each of Alice's objects its parameters can name."""
    choices: dict[str, list[Any]] = {
        "bookmark_id": [b.id for b in alice.bookmarks],
        "tag_id": [alice.tag.id],
        "token_id": [alice.token.id],
        "username": ["alice"],
        "tag": [AIMED_TAG],
        "fmt": ["atom", "rss"],
        "filename": ["driftwood.css"],
    }
    unknown = rule.arguments - choices.keys()
    assert not unknown, f"{rule.rule}: teach the walk what to put in {sorted(unknown)}"
    combinations: list[dict[str, Any]] = [{}]
    for name in sorted(rule.arguments):
        combinations = [{**c, name: value} for c in combinations for value in choices[name]]
    with app.test_request_context():
        for values in combinations:
            yield url_for(rule.endpoint, **values)


def _fields(alice: Alice) -> dict[str, Any]:
    """One set of fields for every form, query and JSON body: each names Alice's objects
    where a route takes a name, and Bob's own values where it takes new content."""
    ids = [str(b.id) for b in alice.bookmarks]
    return {
        "url": AIMED_URL,
        "ids": ids,
        "tag": AIMED_TAG,
        "old": AIMED_TAG,
        "new": "bob-renamed",
        "name": "bob-renamed",
        "target": "bob-target",
        "tags": "bob-tag",
        "tag_names": ["bob-tag"],
        "title": "bob title",
        "description": "bob description",
        "extended": "bob extended",
        "visibility": "public",
        "shared": "yes",
        "replace": "yes",
        "username": "alice",
        "password": "not-alices-password",
        "password_confirm": "not-alices-password",
        "current_password": "not-bobs-password",
        "new_password": "a-new-password",
        "new_password_confirm": "a-new-password",
        "back": "/",
    }


def _walk(app: Flask, visitor: Visitor, alice: Alice) -> None:
    fields = _fields(alice)
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            variants = VARIANTS.get(rule.endpoint, READ_VARIANTS if method == "GET" else [{}])
            for url in _urls(app, rule, alice):
                for variant in variants:
                    where = f"{visitor.name}: {method} {url} {variant}"
                    with visitor.send(method, rule, url, {**fields, **variant}) as response:
                        _check(visitor, rule, response, where, variant)


def _check(visitor: Visitor, rule: Rule, response: Any, where: str, variant: dict) -> None:
    assert response.status_code < 500, where
    body = response.get_data(as_text=True)
    forbidden = visitor.forbidden
    if variant.get("q") == NOTES_WORD:  # notes are not searchable by others either
        forbidden += (SHARED["title"], PUBLIC["title"])
    for text in forbidden:
        assert text not in body, f"{where} shows {text!r}"
    if visitor.api_key is None and rule.endpoint not in PUBLIC_ROUTES:
        signed_out = response.status_code == 401 or (
            response.status_code == 302 and response.location.startswith("/login")
        )
        assert signed_out, f"{where}: {response.status_code} without signing in"


def test_no_route_lets_others_reach_alices_bookmarks(app, session, alice, bob, alices) -> None:
    before = holdings(session, alice)
    walks = [_visitor(app, session, bob), _visitor(app, session, None)]
    for visitor in walks:
        _walk(app, visitor, alices)
    assert holdings(session, alice) == before
    rules = list(app.url_map.iter_rules())
    assert {r.endpoint for r in rules} >= PUBLIC_ROUTES.keys(), "an allow-listed route is gone"
    print(f"walked {len(rules)} routes, {sum(len(v.walked) for v in walks)} requests")


def test_notes_are_searched_only_by_their_owner(app, session, alice, bob, alices, login) -> None:
    """Search used to match words in the notes of anyone's shared and public bookmarks, so
    anyone could read them a word (and with prefix matching, a letter) at a time."""
    mine = app.test_client()
    login(mine, alice)
    assert SHARED["title"] in mine.get(f"/?q={NOTES_WORD}").text
    api = {"Authorization": f"Token {create_token(session, alice, 'cli')[1]}"}
    assert mine.get(f"/api/bookmarks/?q={NOTES_WORD}", headers=api).json["count"] == 2
    theirs = app.test_client()
    login(theirs, bob)
    for url in ("/shared", "/public", "/u/alice", "/feeds/public.atom", "/u/alice/feed.rss"):
        for q in (NOTES_WORD, "zebra", f'"{SHARED["notes"]}"'):
            body = theirs.get(url, query_string={"q": q}).text
            assert SHARED["title"] not in body, (url, q)
            assert PUBLIC["title"] not in body, (url, q)
    # The words that others may see still find the bookmark, and exclusions ignore notes.
    assert SHARED["title"] in theirs.get("/shared?q=teapot").text
    assert PUBLIC["title"] in theirs.get(f"/public?q=lamp -{NOTES_WORD}").text
