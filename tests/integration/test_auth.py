"""Sign up, log in, lockout, log out, change password."""

import re

from driftwood import accounts
from tests.integration.conftest import PASSWORD, form_post


def test_sign_up_logs_the_new_user_in(client):
    response = form_post(
        client,
        "/signup",
        {"username": "dora", "password": "long enough pw", "password_confirm": "long enough pw"},
    )
    assert response.status_code == 302
    assert "dora" in client.get("/").get_data(as_text=True)


def test_sign_up_refuses_a_taken_name_in_any_case(client, alice):
    data = {"username": "ALICE", "password": PASSWORD, "password_confirm": PASSWORD}
    response = form_post(client, "/signup", data)
    assert "That username is taken." in response.get_data(as_text=True)


def test_sign_up_can_be_switched_off(app, client):
    app.config["SIGNUP_ENABLED"] = False
    assert client.get("/signup").status_code == 404
    assert "Sign up" not in client.get("/login").get_data(as_text=True)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, alice):
    wrong_password = form_post(client, "/login", {"username": "alice", "password": "nope"})
    wrong_user = form_post(client, "/login", {"username": "nobody", "password": "nope"})
    assert "Wrong username or password." in wrong_password.get_data(as_text=True)
    assert "Wrong username or password." in wrong_user.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_repeated_failures_lock_the_account_even_for_the_right_password(app, client, alice):
    app.config["LOGIN_MAX_FAILURES"] = 3
    for _ in range(3):
        form_post(client, "/login", {"username": "alice", "password": "guess"})
    locked = form_post(client, "/login", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429


def test_a_name_without_an_account_is_answered_and_locked_like_a_wrong_password(
    app, client, alice, monkeypatch
):
    app.config["LOGIN_MAX_FAILURES"] = 3
    hashes_checked, check = [], accounts.check_password_hash

    def counting_check(password_hash: str, password: str) -> bool:
        hashes_checked.append(password_hash)
        return check(password_hash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting_check)

    def answers(username: str) -> tuple[list[tuple[int, str]], int]:
        """Four tries with a wrong password: each page (less its form token) and how many
        password hashes the app checked, the work that would show in the timing."""
        hashes_checked.clear()
        pages = []
        for _ in range(4):
            response = form_post(client, "/login", {"username": username, "password": "guess"})
            page = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
            pages.append((response.status_code, page))
        return pages, len(hashes_checked)

    known, unknown = answers("alice"), answers("nobody")
    assert [status for status, _ in known[0]] == [200, 200, 200, 429]
    assert unknown == known


def test_login_returns_to_a_local_page_only(client, alice):
    local = form_post(client, "/login?next=/tags/", {"username": "alice", "password": PASSWORD})
    assert local.headers["Location"] == "/tags/"
    for target in ("https://evil.example/", "//evil.example/"):
        response = form_post(
            client, f"/login?next={target}", {"username": "alice", "password": PASSWORD}
        )
        assert response.headers["Location"] == "/"


def test_logout_ends_the_session(client, alice, login):
    login(client, alice)
    form_post(client, "/logout")
    assert client.get("/").headers["Location"].startswith("/login")


def test_changing_the_password_signs_out_other_browsers(app, alice, login):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, alice)
    login(elsewhere, alice)
    response = form_post(
        here,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "a brand new secret",
            "new_password_confirm": "a brand new secret",
        },
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302


def test_the_session_cookie_is_secure_when_configured(app, client, alice):
    app.config["SESSION_COOKIE_SECURE"] = True
    response = form_post(client, "/login", {"username": "alice", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
