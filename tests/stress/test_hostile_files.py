"""Hostile bookmark files and request bodies: each gets a clear answer, none loses data.

Oversized bodies are refused with 413 and a message naming the limit and its setting;
malformed, binary and mis-encoded files import what they can and report the rest;
"billion laughs" entities stay inert and 100,000 levels of nesting cost linear time and
little memory. Alice's stored bookmarks are compared before and after each.
"""

import io
import json
import resource
import time
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from driftwood import library
from driftwood.api.tokens import create_token
from driftwood.models import Bookmark, User
from tests.integration.test_import_pages import CSRF, DATA, logged_in
from tests.stress import test_isolation

KIB = 1024


def holdings(session, user: User) -> dict:
    """What Alice owns, less her API token's last use (these tests use it)."""
    owned = test_isolation.holdings(session, user)
    del owned["tokens"]
    return owned


@pytest.fixture
def stored(session, alice: User) -> User:
    """Alice with bookmarks that no hostile upload may change."""
    for n in range(3):
        library.create_bookmark(
            session, alice, url=f"https://kept.example/{n}", title=f"Kept {n}", tags=["kept"]
        )
    session.commit()
    return alice


def upload(client, action: str, data: bytes):
    """The import form, as a browser posts it. The body is built here in memory: the test
    client spools a large one to a temporary file that it never closes."""
    fields = {"csrf_token": CSRF, "action": action, "file": FileStorage(io.BytesIO(data), "b.html")}
    boundary, body = encode_multipart(fields)
    content_type = f"multipart/form-data; boundary={boundary}"
    return client.post("/import", data=body, content_type=content_type)


def _api_import(client, key: str, data: bytes, **kwargs):
    return client.post(
        "/api/bookmarks/import/",
        data={"file": (io.BytesIO(data), "bookmarks.html")},
        headers={"Authorization": f"Token {key}"},
        content_type="multipart/form-data",
        **kwargs,
    )


@pytest.fixture
def key(session, stored: User) -> str:
    _, key = create_token(session, stored, "stress")
    session.commit()
    return key


def test_oversized_bodies_get_413_naming_the_limit_and_change_nothing(
    app, session, stored, key
) -> None:
    app.config.update(MAX_CONTENT_LENGTH=32 * KIB, MAX_IMPORT_BYTES=64 * KIB)
    before = holdings(session, stored)
    web = logged_in(app, "alice")
    big_file = b'<DT><A HREF="https://new.example/">x</A>' + b" " * 64 * KIB

    page = upload(web, "import", big_file)
    assert page.status_code == 413
    assert "larger than the import limit of 65536 bytes (DRIFTWOOD_MAX_IMPORT_BYTES)" in page.text
    api = _api_import(web, key, big_file)
    assert api.status_code == 413
    assert "import limit of 65536 bytes" in api.json["detail"]
    # A body without a length (chunked) is cut off at the limit too.
    assert chunked(web, "/api/bookmarks/import/", big_file, f"Token {key}").status_code == 413

    # Every other request has the smaller general limit, with its own setting named.
    huge_note = {"url": "https://new.example/", "notes": "n" * 40 * KIB, "csrf_token": "x"}
    form = web.post("/bookmarks/new", data=huge_note)
    assert form.status_code == 413
    assert "the limit of 32768 bytes (DRIFTWOOD_MAX_CONTENT_LENGTH)" in form.text
    as_json = web.post("/api/bookmarks/", json=huge_note, headers={"Authorization": f"Token {key}"})
    assert as_json.status_code == 413
    assert "DRIFTWOOD_MAX_CONTENT_LENGTH" in as_json.json["detail"]
    assert holdings(session, stored) == before

    # A bookmark file larger than the general limit but within its own still imports.
    fits = b'<DT><A HREF="https://new.example/">New</A>' + b" " * 40 * KIB
    assert "1 were added" in upload(web, "import", fits).text


def chunked(client, path: str, body: bytes, authorization: str = "", **headers: str):
    """A body without a Content-Length, as gunicorn hands a chunked one to the app: it
    decodes the chunks and marks where the body ends (wsgi.input_terminated)."""
    if authorization:
        headers["Authorization"] = authorization
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", **headers},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_bodies_over_the_limit_get_the_same_413_as_measured_ones(
    app, session, stored, key
) -> None:
    app.config.update(MAX_CONTENT_LENGTH=32 * KIB, MAX_IMPORT_BYTES=64 * KIB)
    before = holdings(session, stored)
    web = logged_in(app, "alice")
    token = f"Token {key}"
    bookmark = {"url": "https://new.example/", "notes": "n" * 40 * KIB}
    as_json = json.dumps(bookmark).encode()
    json_type = {"Content-Type": "application/json"}
    measured = web.post(
        "/api/bookmarks/", data=as_json, headers={"Authorization": token, **json_type}
    )
    streamed = chunked(web, "/api/bookmarks/", as_json, token, **json_type)
    assert (streamed.status_code, streamed.json) == (413, measured.json)
    assert "the limit of 32768 bytes (DRIFTWOOD_MAX_CONTENT_LENGTH)" in streamed.json["detail"]

    form = urlencode({**bookmark, "csrf_token": CSRF}).encode()
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    page = chunked(web, "/bookmarks/new", form, **form_type)
    assert page.status_code == 413
    assert "the limit of 32768 bytes (DRIFTWOOD_MAX_CONTENT_LENGTH)" in page.text
    assert holdings(session, stored) == before

    # Within the limit, a chunked body is read whole, to its last byte.
    fits = json.dumps({**bookmark, "notes": "n" * 31 * KIB}).encode()
    created = chunked(web, "/api/bookmarks/", fits, token, **json_type)
    assert created.status_code == 201 and created.json["notes"] == "n" * 31 * KIB


# Malformed, binary and truncated files, and bytes that are not UTF-8.
BROKEN = {
    "malformed fixture": (DATA / "malformed.html").read_bytes(),
    "empty of bookmarks": b"<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><p></DL>",
    "binary (PNG header)": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16,
    "truncated mid-tag": b'<DL><p><DT><A HREF="https://trunc.example/" ADD_DATE="17',
    "invalid UTF-8": b'<DT><A HREF="https://bytes.example/">caf\xc3 \xff\xfe \xed\xa0\x80</A>',
    "lying charset": b'<META CHARSET="no-such-codec"><DT><A HREF="https://l.example/">\xe9</A>',
    "NUL everywhere": b'<DT><A HREF="https://nul.example/\x00">ti\x00tle</A>\x00<DD>de\x00sc',
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_files_import_what_they_can_and_report_the_rest(
    app, session, stored, key, name
) -> None:
    before = holdings(session, stored)
    web = logged_in(app, "alice")
    preview = upload(web, "preview", BROKEN[name])
    assert preview.status_code == 200, preview.text
    assert "would be added" in preview.text
    answer = _api_import(web, key, BROKEN[name])
    assert answer.status_code == 200, answer.text
    report = answer.json
    # Every entry is accounted for, and nothing stored before is changed or gone.
    after = holdings(session, stored)
    assert after["bookmarks"][: len(before["bookmarks"])] == before["bookmarks"]
    assert len(after["bookmarks"]) == len(before["bookmarks"]) + len(report["added"])
    for entry in report["rejected"]:
        assert entry["detail"], entry  # a reason, for every rejected entry
    if name == "invalid UTF-8":
        assert report["encoding"] == "cp1252"  # read as the old Windows default, not lost
        assert [e["title"] for e in report["added"]] == ["cafÃ ÿþ í\xa0€"]


def _laughs(levels: int = 9) -> bytes:
    """The classic "billion laughs" DTD: 10**levels "lol"s if a parser expanded it."""
    entities = [b'<!ENTITY lol0 "lol">']
    entities += [b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, 10)]
    body = b'<DL><DT><A HREF="https://laughs.example/">&lol%d;</A></DL>' % levels
    return b'<?xml version="1.0"?>\n<!DOCTYPE lolz [' + b"\n".join(entities) + b"]>\n" + body


DEPTH = 100_000
HOSTILE = {
    # The file, then what is stored: the one bookmark's title and its number of tags.
    "billion laughs": (_laughs(), "&lol9;", 0),
    # Each level a folder of its own name: at most MAX_TAGS of them become tags.
    "100,000 nested folders": (
        b"".join(b"<DL><p><DT><H3>f%d</H3>\n" % n for n in range(DEPTH))
        + b'<DT><A HREF="https://deep.example/">deep</A>',
        "deep",
        100,
    ),
    "100,000 nested inline elements": (
        b'<DT><A HREF="https://inline.example/">'
        + b"<b><i>" * (DEPTH // 2)
        + b"inline"
        + b"</i></b>" * (DEPTH // 2),
        "inline",
        0,
    ),
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@pytest.mark.parametrize("name", HOSTILE)
def test_entity_bombs_and_deep_nesting_import_cleanly_in_bounded_time_and_memory(
    app, session, stored, name
) -> None:
    data, title, tags = HOSTILE[name]
    before = holdings(session, stored)
    web = logged_in(app, "alice")
    peak, started = _peak_rss_mib(), time.perf_counter()
    response = upload(web, "import", data)
    elapsed, grown = time.perf_counter() - started, _peak_rss_mib() - peak
    print(f"{name}: {len(data) / 2**20:.1f} MiB in {elapsed:.1f} s, peak RSS +{grown:.0f} MiB")
    assert response.status_code == 200, response.text
    assert "1 were added" in response.text
    # Generous bounds (the machine is shared): a quadratic walk takes many minutes, and
    # re-cleaning every folder's tags at every level took over 500 MiB.
    assert elapsed < 120
    assert grown < 200
    after = holdings(session, stored)
    assert after["bookmarks"][:-1] == before["bookmarks"]
    new = session.get_one(Bookmark, after["bookmarks"][-1][0])
    assert (new.title, len(new.tags)) == (title, tags)
