"""A real user's first minutes, in a real headless Chromium: sign up, save, search, tag.

Debian's /usr/bin/chromium is driven by Playwright (never `playwright install`) against
the app served by a real WSGI server on 127.0.0.1, using the integration tests' database.
"""

import shutil
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from werkzeug.serving import make_server

from driftwood import create_app
from tests.conftest import TEST_SETTINGS, require

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def base_url(database_url: str, engine: Engine) -> Iterator[str]:
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        app.extensions["driftwood.db"].engine.dispose()


@pytest.fixture
def username(engine: Engine) -> Iterator[str]:
    name = f"walker-{uuid.uuid4().hex[:8]}"
    yield name
    with engine.begin() as connection:  # the server committed for real: clean up
        connection.execute(text("DELETE FROM users WHERE username = :u"), {"u": name})


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    require(shutil.which(CHROMIUM) is not None, "Debian's chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            yield page
        finally:
            browser.close()


def test_sign_up_save_search_and_tag(page, base_url, username):
    from playwright.sync_api import expect

    page.goto(f"{base_url}/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password (at least 8 characters)").fill("a long test password")
    page.get_by_label("Password again").fill("a long test password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Bookmarks")).to_be_visible()

    page.get_by_role("link", name="Add", exact=True).click()
    page.get_by_label("URL").fill("https://example.org/kettles")
    page.get_by_label("Title").fill("The kettle handbook")
    page.get_by_label("Tags").fill("tea")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved The kettle handbook")

    page.goto(f"{base_url}/bookmarks/new?url=https://example.org/teapots&title=Teapots")
    page.get_by_role("button", name="Save").click()

    page.get_by_role("searchbox").fill("kett")
    page.keyboard.press("Enter")
    results = page.locator("ol.bookmarks")
    expect(results).to_contain_text("The kettle handbook")
    expect(results).not_to_contain_text("Teapots")

    page.get_by_label("Select The kettle handbook").check()
    page.get_by_label("With the selected bookmarks").select_option("tag")
    page.get_by_placeholder("tags").fill("reading")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Changed the tags of 1 bookmarks")

    page.get_by_role("link", name="Tags", exact=True).click()
    expect(page.get_by_role("link", name="#reading")).to_be_visible()
    page.get_by_role("link", name="#reading").click()
    expect(page.locator("ol.bookmarks li")).to_have_count(1)
    expect(page.locator("ol.bookmarks")).to_contain_text("The kettle handbook")
