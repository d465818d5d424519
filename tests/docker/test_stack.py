"""The whole compose stack, dev and production layering, through nginx like a user.

Each layering runs under its own project name and free ports, and is removed with its
volumes at the end.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from python_on_whales import DockerClient

from ops import backup
from ops.lessons.probes import POSTGRES_REPLIES, postgres_reply, scrape_metrics
from ops.stack import Stack, down, prepare, up, url
from tests.conftest import require
from tests.docker.stacks import (
    db_addresses,
    free_port,
    get_text,
    postgres_answer,
    psql,
    unchecked_tls,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, docker: DockerClient) -> Iterator[Stack]:
    layering = request.param
    running = Stack(
        ROOT,
        prod=layering == "prod",
        project=f"driftwood-test-{layering}-{uuid.uuid4().hex[:6]}",
        overrides=(
            ("DRIFTWOOD_HTTP_PORT", str(free_port())),
            ("DRIFTWOOD_HTTPS_PORT", str(free_port())),
            ("DRIFTWOOD_TAG", "test"),
            ("DRIFTWOOD_SIGNUP_ENABLED", "true"),
        ),
    )
    prepare(running, docker)
    try:
        up(running)
        yield running
    finally:
        down(running, volumes=True)


def test_sign_up_and_save_a_bookmark_in_a_browser(stack: Stack) -> None:
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    address = url(stack)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        page = browser.new_page(ignore_https_errors=stack.prod)
        violations: list[str] = []
        page.on("console", lambda message: violations.append(message.text))
        page.goto(address + "signup")
        page.fill("#username", "ada")
        page.fill("#password", "correct horse battery")
        page.fill("#password_confirm", "correct horse battery")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(address)
        page.goto(address + "bookmarks/new")
        page.fill("#url", "https://example.org/driftwood")
        page.fill("#title", "Saved through nginx")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(address)
        assert "Saved through nginx" in page.content()
        browser.close()
    # Nothing the Content-Security-Policy blocked (it would be logged to the console).
    assert [text for text in violations if "Content Security Policy" in text] == []
    assert psql(stack, "select title from bookmarks") == "Saved through nginx"


def test_nginx_answers_with_security_headers_and_a_request_id(stack: Stack) -> None:
    address = url(stack) + "login"  # http(s) only, from ops.stack
    with urllib.request.urlopen(address, context=unchecked_tls(), timeout=10) as response:  # noqa: S310
        headers = response.headers
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert len(headers["X-Request-ID"]) == 32
    assert ("Strict-Transport-Security" in headers) == stack.prod


def _logins_counted(stack: Stack) -> float:
    lines = scrape_metrics(stack.client(), stack.client().compose.ps(["app"])[0]).splitlines()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("driftwood_http_requests_total{") and 'endpoint="auth.login"' in line
    )


def test_metrics_count_every_request_whichever_worker_answers(stack: Stack) -> None:
    # Production runs several gunicorn workers: without the shared multiprocess directory
    # each scrape would show only the counts of the worker that answers it.
    before = _logins_counted(stack)
    for _ in range(30):
        get_text(url(stack) + "login")
    assert _logins_counted(stack) - before == 30


def test_metrics_are_not_served_through_nginx(stack: Stack) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        get_text(url(stack) + "metrics")
    refused.value.close()  # the error holds the response open
    assert refused.value.code == 404


def test_plain_http_redirects_to_the_published_https_port(stack: Stack) -> None:
    if not stack.prod:
        pytest.skip("the development layering serves plain HTTP")
    ports = dict(stack.overrides)

    class NoFollow(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoFollow)
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(f"http://127.0.0.1:{ports['DRIFTWOOD_HTTP_PORT']}/login?next=%2F", timeout=10)
    redirected.value.close()  # the error holds the response open
    assert redirected.value.code == 308
    assert redirected.value.headers["Location"] == (
        f"https://127.0.0.1:{ports['DRIFTWOOD_HTTPS_PORT']}/login?next=%2F"
    )


def test_database_answers_the_app_only(stack: Stack) -> None:
    assert postgres_answer(stack, "app", "db") in POSTGRES_REPLIES  # the probe works
    for host in ["db", *db_addresses(stack)]:
        assert postgres_answer(stack, "nginx", host) not in POSTGRES_REPLIES, host


def test_database_is_unreachable_from_the_host(stack: Stack) -> None:
    for address in db_addresses(stack):
        assert postgres_reply(address) not in POSTGRES_REPLIES, address


def test_data_survives_down_and_up(stack: Stack) -> None:
    psql(
        stack, "create table if not exists survival (note text); insert into survival values ('x')"
    )
    down(stack)
    up(stack, build=False)
    assert psql(stack, "select count(*) from survival") == "1"


def test_backup_then_restore_into_a_fresh_volume_gives_the_same_rows(stack: Stack) -> None:
    psql(stack, "create table if not exists restored (n int); insert into restored values (1),(2)")
    query = "select md5(string_agg(t::text, ',' order by t::text)) from restored t"
    before = psql(stack, query), psql(stack, "select count(*) from users")
    dump = backup.backup(stack)
    try:
        down(stack, volumes=True)
        up(stack, build=False)
        assert psql(stack, "select to_regclass('restored')") == ""
        backup.restore(stack, dump)
        assert (psql(stack, query), psql(stack, "select count(*) from users")) == before
    finally:
        dump.unlink()
