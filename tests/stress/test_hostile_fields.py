"""Hostile values in fields: script URLs, stored XSS, SQL injection and broken Unicode.

Every entrance (web form, native API, Pinboard API, bookmark file) refuses a script URL;
one stored anyway (an old database, a restore) is never rendered as a link. Markup in
titles, descriptions, notes and tags is escaped on every page, in every feed and in the
exports, which import back to the same text. Search and filter parameters are data, never
SQL: no 500, no database error text, and the right results.
"""

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from markupsafe import escape
from sqlalchemy import func, select, text

from driftwood import library
from driftwood.api.tokens import create_token
from driftwood.models import Bookmark, User, Visibility
from tests.integration.test_import_pages import CSRF, logged_in
from tests.stress.test_hostile_files import upload

ROOT = Path(__file__).parents[2]
SCRIPT_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
]
TITLE = '<script>alert("title")</script>'
DESCRIPTION = "\"><img src=x onerror=alert('description')> ]]> {{7*7}}"
NOTES = "</textarea><script>alert('notes')</script>"
TAG = "<svg/onload=alert(1)>"
MARKUP = (TITLE, DESCRIPTION, NOTES, TAG)


def _token(session, user: User) -> dict[str, str]:
    _, key = create_token(session, user, "stress")
    session.commit()
    return {"Authorization": f"Token {key}"}


def test_script_urls_are_refused_at_every_entrance(app, session, alice) -> None:
    web, api = logged_in(app, "alice"), _token(session, alice)
    saved = library.create_bookmark(session, alice, url="https://saved.example/")
    session.commit()
    for url in SCRIPT_URLS:
        form = web.post("/bookmarks/new", data={"url": url, "csrf_token": CSRF})
        assert form.status_code == 422, url
        refusal = r"only http:// and https:// urls|the url contains control"
        assert re.search(refusal, form.text, re.IGNORECASE), url
        edit = web.post(f"/bookmarks/{saved.id}/edit", data={"url": url, "csrf_token": CSRF})
        assert edit.status_code == 422, url
        created = web.post("/api/bookmarks/", json={"url": url}, headers=api)
        assert created.status_code == 400 and "url" in created.json, url
        patched = web.patch(f"/api/bookmarks/{saved.id}/", json={"url": url}, headers=api)
        assert patched.status_code == 400, url
        pinboard = web.get("/api/v1/posts/add", query_string={"url": url}, headers=api)
        assert "done" not in pinboard.text, url
    # In a bookmark file, also spelled with character references as an attacker would.
    hrefs = [*SCRIPT_URLS, "&#106;avascript:alert(1)", "&#x6A;avascript&colon;alert(1)"]
    entries = "".join(f'<DT><A HREF="{href}">x</A>\n' for href in hrefs)
    report = web.post("/api/bookmarks/import/", data=entries.encode(), headers=api).json
    assert not report["added"]
    assert len(report["rejected"]) == len(hrefs)
    stored = session.scalars(select(Bookmark.url).where(Bookmark.user_id == alice.id))
    assert list(stored) == ["https://saved.example/"]


class Markup(HTMLParser):
    """What a page would run or load: elements, event handler attributes, links."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.elements: set[str] = set()
        self.handlers: list[str] = []
        self.links: list[str] = []
        self.feed(body)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.add(tag)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.handlers.append(f"{tag} {name}={value}")
            if name in ("href", "src", "action", "formaction") and value is not None:
                self.links.append(value)


BOOKMARKLET = re.compile(r"javascript:void\(window\.open\('http://localhost/bookmarks/new\?url=")


def _pages(bookmark: Bookmark) -> list[str]:
    """Every page (GET, not under /api/) that shows bookmarks, their tags or a form."""
    return [
        "/",
        "/?q=alert",
        f"/?q={TITLE}",
        "/shared",
        "/public",
        "/u/alice",
        "/tags/",
        "/import",
        "/settings/api-tokens",
        f"/bookmarks/{bookmark.id}/edit",
        f"/bookmarks/new?url=https://x.example/&title={TITLE}&description={DESCRIPTION}",
    ]


def _assert_inert(body: str, where: str) -> Markup:
    page = Markup(body)
    # The app has no scripts, inline styles or handlers at all: the CSP forbids them.
    assert not page.elements & {"script", "style", "img", "svg", "iframe", "object"}, where
    assert not page.handlers, (where, page.handlers)
    for link in page.links:
        scheme = urlsplit(link.strip()).scheme.lower()
        safe = scheme in ("", "http", "https") or link == "data:,"  # data:, = no favicon
        assert safe or BOOKMARKLET.match(link), (where, link)
    for value in MARKUP:
        assert value not in body, (where, value)
    return page


def test_markup_in_every_field_is_escaped_everywhere_it_shows(app, session, alice, bob) -> None:
    web = logged_in(app, "alice")
    fields = {"title": TITLE, "description": DESCRIPTION, "notes": NOTES, "tags": TAG}
    form = {**fields, "url": "https://xss.example/", "visibility": "public", "csrf_token": CSRF}
    assert web.post("/bookmarks/new", data=form).status_code == 302
    web.post("/settings/api-tokens", data={"name": TITLE, "csrf_token": CSRF})
    (bookmark,) = library.list_bookmarks(session, library.owned_by(alice)).bookmarks
    assert (bookmark.title, bookmark.notes, [t.name for t in bookmark.tags]) == (
        TITLE,
        NOTES,
        [TAG],
    )
    # Stored without a check, as an old database or a restore could hold them.
    session.execute(
        text(
            "INSERT INTO bookmarks (user_id, url, url_normalized, title, visibility)"
            " SELECT :user, u, u, 'legacy', 'public' FROM unnest(CAST(:urls AS text[])) AS u"
        ),
        {"user": alice.id, "urls": SCRIPT_URLS},
    )
    session.commit()

    for url in _pages(bookmark):
        body = web.get(url).text
        _assert_inert(body, url)
    listed = web.get("/").text
    for value in (TITLE, DESCRIPTION, NOTES, TAG):
        assert str(escape(value)) in listed  # shown, as text
    # Bob sees the public bookmark (and the legacy ones) on the public pages: as text too.
    for url in ("/public", "/u/alice", "/shared"):
        _assert_inert(logged_in(app, "bob").get(url).text, f"bob {url}")

    for feed in ("/feeds/public.atom", "/feeds/public.rss", "/u/alice/feed.atom"):
        body = web.get(feed).text
        root = ET.fromstring(body)  # noqa: S314 - our own feed, under test
        texts = [element.text for element in root.iter()]
        assert TITLE in texts, feed  # escaped in the XML, the same text once parsed
        assert DESCRIPTION in texts, feed
        assert NOTES not in body, feed  # notes are never published
        links = [e.get("href") or e.text for e in root.iter() if e.tag.endswith("link")]
        assert all(urlsplit(link).scheme in ("http", "https") for link in links), links

    # The exports, imported into Bob's account, give the same text back and nothing more.
    bob_web, bob_api = logged_in(app, "bob"), _token(session, bob)
    exported = web.get("/export.html").data
    imported = upload(bob_web, "import", exported)
    assert "1 were added" in imported.text, imported.text  # the legacy ones are rejected
    (copy,) = library.list_bookmarks(session, library.owned_by(bob)).bookmarks
    assert (copy.title, copy.description, copy.notes) == (TITLE, DESCRIPTION, NOTES)
    assert [t.name for t in copy.tags] == [TAG]
    as_json = web.get("/export.json").json["bookmarks"]
    assert [b["title"] for b in as_json if b["url"] == "https://xss.example/"] == [TITLE]
    assert bob_web.get("/api/bookmarks/", headers=bob_api).json["results"][0]["notes"] == NOTES


def test_the_content_security_policy_forbids_inline_script() -> None:
    # Set by nginx on every response (deploy/nginx/driftwood/headers.conf); the pages
    # above prove the app needs nothing it forbids.
    headers = (ROOT / "deploy/nginx/driftwood/headers.conf").read_text()
    (policy,) = re.findall(r'add_header Content-Security-Policy "([^"]+)" always;', headers)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    script = directives.get("script-src", directives["default-src"])
    assert script == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE bookmarks; --",
    "1) OR (1=1",
    "\\' UNION SELECT password_hash, 1 FROM users --",
    "%' OR url LIKE '%",
    "$$ OR true $$",
    "!':* | 'a':*",
    "&|!<->()",
    "\x00'; --",
    "' AND pg_sleep(5) --",
]
# Phrases in the leaked text of a failed SQL statement.
SQL_ERRORS = ("psycopg", "sqlalchemy", "syntax error", "traceback", "from bookmarks", "sqlstate")
# Every filter and paging parameter of every route that takes one.
PARAMETERS = {
    "/": ["q", "cursor"],
    "/shared": ["q", "cursor"],
    "/public": ["q", "cursor"],
    "/u/alice": ["q"],
    "/feeds/public.atom": ["q"],
    "/api/bookmarks/": ["q", "limit", "offset", "added_since", "modified_since"],
    "/api/bookmarks/check/": ["url"],
    "/api/bookmarks/export/": ["format"],
    "/api/tags/": ["limit", "offset"],
    "/api/v1/posts/get": ["url", "tag", "dt"],
    "/api/v1/posts/recent": ["tag", "count"],
    "/api/v1/posts/all": ["tag", "start", "results", "fromdt", "todt"],
    "/api/v1/tags/rename": ["old", "new"],
    "/api/v1/tags/delete": ["tag"],
    "/api/v1/posts/delete": ["url"],
}


def _everything(session) -> list[tuple]:
    session.expire_all()
    return [
        tuple(row)
        for row in session.execute(
            select(Bookmark.id, Bookmark.user_id, Bookmark.url, Bookmark.title).order_by(
                Bookmark.id
            )
        )
    ]


def test_injections_in_every_search_and_filter_parameter_are_data(app, session, alice, bob) -> None:
    for user, word in ((alice, "kettle"), (bob, "teapot")):
        for n in range(3):
            library.create_bookmark(
                session, user, url=f"https://{word}.example/{n}", title=f"{word} {n}"
            )
    web, api = logged_in(app, "alice"), _token(session, alice)
    before = _everything(session)
    for path, names in PARAMETERS.items():
        for name in names:
            for value in INJECTIONS:
                response = web.get(path, query_string={name: value}, headers=api)
                where = f"{path}?{name}={value!r}"
                assert response.status_code < 500, where
                body = response.text.lower()
                for leak in SQL_ERRORS:
                    assert leak not in body, (where, leak)
                if path == "/api/bookmarks/" and name == "q":
                    # No word of them is stored; punctuation alone is no search at all.
                    expected = 0 if re.search(r"\w", value) else 3
                    assert response.json["count"] == expected, where
    assert _everything(session) == before
    # The words around an injection still search as words, in Alice's bookmarks only.
    found = web.get("/api/bookmarks/", query_string={"q": "kettle' OR '1'='1"}, headers=api)
    assert found.json["count"] == 0  # every word must match: "or" and "1" do not
    found = web.get("/api/bookmarks/", query_string={"q": "kettle' --"}, headers=api).json
    assert sorted(b["title"] for b in found["results"]) == ["kettle 0", "kettle 1", "kettle 2"]
    count = session.scalar(select(func.count()).select_from(Bookmark))
    assert count == 6


def test_ids_beyond_the_database_range_are_missing_rows(app, session, alice) -> None:
    web, api = logged_in(app, "alice"), _token(session, alice)
    mine = library.create_bookmark(session, alice, url="https://mine.example/", tags=["t"])
    session.commit()
    huge = str(2**31)
    for url in (f"/bookmarks/{huge}/edit", f"/api/bookmarks/{huge}/", f"/api/tags/{huge}/"):
        assert web.get(url, headers=api).status_code == 404, url
    for url in (f"/bookmarks/{huge}/delete", f"/tags/{huge}/delete", "/tags/merge"):
        response = web.post(url, data={"csrf_token": CSRF, "ids": [huge, "²"], "target": "x"})
        assert response.status_code in (302, 404), url
    bulk = {"csrf_token": CSRF, "action": "delete", "ids": [huge, "²", "-1", str(mine.id)]}
    assert web.post("/bookmarks/bulk", data=bulk).status_code == 302
    assert library.get_bookmark(session, alice, mine.id) is None  # the one real id counted


def test_broken_unicode_in_fields_is_cleaned_or_refused(app, session, alice) -> None:
    web, api = logged_in(app, "alice"), _token(session, alice)
    # Percent-escapes that are not UTF-8, in a form body (kept as the escapes, losslessly),
    # a query and a path.
    body = f"csrf_token={CSRF}&url=https://bytes.example/&title=caf%C3%28%FF&notes=%ED%A0%80"
    created = web.post(
        "/bookmarks/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert created.status_code == 302
    stored = library.find_by_normalized_url(session, alice, "https://bytes.example/")
    assert stored is not None
    assert (stored.title, stored.notes) == ("caf%C3(%FF", "%ED%A0%80")
    for url in ("/?q=%FF%FE", "/?cursor=%C0%AF", "/u/%FF", "/feeds/tags/%ED%A0%80.atom"):
        assert web.get(url).status_code in (200, 404), url
    # NUL, which PostgreSQL refuses in text, in a user name and a tag name.
    assert web.get("/u/al%00ice").status_code == 404
    login = web.post("/login", data={"username": "al\x00ice", "password": "x", "csrf_token": CSRF})
    assert login.status_code == 200 and "Wrong username or password" in login.text
    assert web.get("/api/v1/posts/all?tag=%FF", headers=api).status_code == 200
    # JSON that is not UTF-8, or holds lone surrogates and NUL.
    not_utf8 = b'{"url": "https://x.example/", "title": "\xff\xfe"}'
    refused = web.post(
        "/api/bookmarks/", data=not_utf8, content_type="application/json", headers=api
    )
    assert refused.status_code == 400 and refused.json == {
        "non_field_errors": ["Send a JSON object."]
    }
    odd = '{"url": "https://odd.example/", "title": "a\\ud800b\\u0000c", "tag_names": ["\\udfff"]}'
    answer = web.post("/api/bookmarks/", data=odd, content_type="application/json", headers=api)
    assert answer.status_code == 201
    assert (answer.json["title"], answer.json["tag_names"]) == ("abc", [])
    bad_url = web.post("/api/bookmarks/", json={"url": "https://x.example/\ud800"}, headers=api)
    assert bad_url.status_code == 400
    assert session.scalar(select(func.count()).where(Bookmark.visibility == Visibility.PUBLIC)) == 0
