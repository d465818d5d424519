"""Forged forms, the API without its token, static path traversal and the login lockout.

Every state-changing form the app registers (every POST outside /api/, found in
`app.url_map`) is refused with 403 without its CSRF token, with a wrong one and with
another session's, and nothing changes. The API is exempt from CSRF only because a session
cookie never authenticates it: that is checked on every API route too.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from driftwood.models import User
from tests.integration.conftest import PASSWORD
from tests.integration.test_import_pages import CSRF, logged_in
from tests.stress import test_isolation
from tests.stress.test_isolation import Alice, _fields, _urls, holdings

alices = test_isolation.alices  # the walk's fixture: Alice's bookmarks, tag and token


def _posts(app) -> list:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and not rule.rule.startswith("/api/")
    ]


def test_every_form_refuses_a_missing_wrong_or_foreign_csrf_token(
    app, session, alice, bob, alices: Alice
) -> None:
    web = logged_in(app, "alice")
    other = app.test_client()
    other.get("/login")
    with other.session_transaction() as cookie:
        foreign = cookie["csrf_token"]  # valid, but in another browser's session only
    before = holdings(session, alice)
    users = session.scalar(select(func.count()).select_from(User))
    forms = _posts(app)
    for rule in forms:
        for url in _urls(app, rule, alices):
            for token in (None, "wrong", foreign, ""):
                data = {**_fields(alices), "username": "alice", "password": PASSWORD}
                data["ids"] = [str(b.id) for b in alices.bookmarks]
                if token is not None:
                    data["csrf_token"] = token
                response = web.post(url, data=data)
                assert response.status_code == 403, (url, token)
                assert "did not come from this site" in response.text
            header = web.post(url, headers={"X-CSRFToken": "wrong"})
            assert header.status_code == 403, url
    assert holdings(session, alice) == before
    assert session.scalar(select(func.count()).select_from(User)) == users
    # The same form with the right token does change things: the refusals were the token.
    ids = [str(b.id) for b in alices.bookmarks]
    done = web.post("/bookmarks/bulk", data={"ids": ids, "action": "delete", "csrf_token": CSRF})
    assert done.status_code == 302
    assert holdings(session, alice)["bookmarks"] == []
    print(f"{len(forms)} state-changing forms refused forged posts")


def test_a_session_cookie_never_authenticates_the_api(app, session, alice, alices) -> None:
    web = logged_in(app, "alice")  # signed in, but no token
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "api_document.openapi":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for url in _urls(app, rule, alices):
                response = web.open(url, method=method, query_string={"url": "https://e/"})
                assert response.status_code == 401, (method, url)


TRAVERSALS = [
    "/static/../__init__.py",
    "/static/..%2f__init__.py",
    "/static/%2e%2e/__init__.py",
    "/static/%2e%2e%2f__init__.py",
    "/static/..%5c__init__.py",
    "/static/..\\__init__.py",
    "/static/%252e%252e/__init__.py",
    "/static/....//__init__.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/.%2e/.%2e/.%2e/.%2e/etc/passwd",
    "/static/driftwood.css%00.py",
    "/static/templates/../../__init__.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_files_never_leave_their_folder(app, path: str) -> None:
    client = app.test_client()
    with client.get(path, follow_redirects=True) as response:  # // is merged: a redirect
        body = response.get_data(as_text=True)
    assert response.status_code in (400, 404), path
    assert "create_app" not in body and "root:" not in body
    with client.get("/static/driftwood.css") as served:
        assert served.status_code == 200


def test_repeated_failures_lock_the_account_out_whatever_the_spelling(
    app, session, alice, bob, login
) -> None:
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=300)
    client = logged_in(app, "bob")

    def attempt(username: str, password: str):
        data = {"username": username, "password": password, "csrf_token": CSRF}
        return client.post("/login", data=data)

    for username in ("alice", "ALICE", " alice "):
        response = attempt(username, "wrong password")
        assert response.status_code == 200 and "Wrong username or password" in response.text
    for username, password in (("alice", PASSWORD), ("Alice", PASSWORD), ("alice", "nope")):
        locked = attempt(username, password)
        assert locked.status_code == 429, username
        assert "Too many failed logins; try again in a few minutes." in locked.text
    # Nobody else is locked out. Names without an account lock just like alice's (were they
    # never to lock, the lockout would tell which names have one), each on its own.
    login(app.test_client(), bob)
    assert [attempt("nobody", "wrong password").status_code for _ in range(4)] == [200] * 3 + [429]
    assert attempt("' OR 1=1 --", "x").status_code == 200
    # When the lockout ends, the right password works and the count starts again.
    session.get_one(User, alice.id).locked_until = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()
    assert attempt("alice", PASSWORD).status_code == 302
    session.expire_all()
    assert session.get_one(User, alice.id).failed_logins == 0
