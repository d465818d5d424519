"""Every form POST needs the session's CSRF token; the token-authenticated API does not."""


def test_a_post_without_the_token_is_refused(client):
    assert client.post("/login", data={"username": "a", "password": "b"}).status_code == 403


def test_a_post_with_a_wrong_token_is_refused(client):
    with client.session_transaction() as session:
        session["csrf_token"] = "right"
    response = client.post("/logout", data={"csrf_token": "wrong"})
    assert response.status_code == 403


def test_the_header_form_of_the_token_is_accepted(client):
    with client.session_transaction() as session:
        session["csrf_token"] = "right"
    assert client.post("/logout", headers={"X-CSRFToken": "right"}).status_code == 302


def test_the_api_is_exempt(app, client):
    @app.post("/api/probe")
    def probe():
        return "ok"

    assert client.post("/api/probe").status_code == 200


def test_pages_embed_the_token_in_forms(client):
    page = client.get("/login").get_data(as_text=True)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    assert f'name="csrf_token" value="{token}"' in page
