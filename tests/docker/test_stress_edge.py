"""Issue 8, the production stack's edges: what nginx refuses before the app sees it, how the
running containers are confined, and a short load with no errors. One stack for the module;
the brute-force test runs last (it spends the login rate limit of the host's address).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from ops import load
from ops.lessons.probes import POSTGRES_REPLIES, postgres_reply
from ops.webclient import Browser, import_bookmarks, netscape_file, sign_up
from tests.docker.stacks import (
    db_addresses,
    postgres_answer,
    psql,
    unchecked_tls,
)
from tests.docker.stress_stack import (
    BASE,
    HTTPS_PORT,
    PASSWORD,
    ROOT,
    Stack,
    record,
    running_stack,
    service,
    wait_healthy,
)

pytestmark = [pytest.mark.docker, pytest.mark.stress]

SERVICES = ["nginx", "app", "db"]


@pytest.fixture(scope="module")
def stack(docker: DockerClient) -> Iterator[Stack]:
    yield from running_stack(docker)


def send(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, bytes, float]:
    """One request exactly as written (no path normalisation): status, body, seconds."""
    headers = {"Content-Length": str(len(body))} | (headers or {})
    connection = http.client.HTTPSConnection(
        "127.0.0.1", HTTPS_PORT, context=unchecked_tls(), timeout=30
    )
    started = time.monotonic()
    connection.putrequest(method, path)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    with contextlib.suppress(OSError):  # nginx may answer and close before the body is sent
        connection.send(body)
    response = connection.getresponse()
    answer = (response.status, response.read(), time.monotonic() - started)
    connection.close()
    return answer


# ---- nginx's limits ---------------------------------------------------------------------


def test_an_enormous_upload_is_refused_by_nginx_with_a_page(stack: Stack) -> None:
    announced = 200 * 2**20  # 200 MB announced; nginx refuses on the header, unread
    headers = {"Content-Type": "text/html", "Content-Length": str(announced)}
    status, body, seconds = send("POST", "/import", headers, b"x" * 2**16)
    record("upload_limit", {"status": status, "seconds": round(seconds, 2)})
    assert status == 413
    assert b"That upload is too large" in body


@pytest.mark.parametrize("header", ["X-Padding", "Cookie"])
def test_oversized_headers_are_refused(stack: Stack, header: str) -> None:
    status, body, _ = send("GET", "/", {header: "a" * 16_000})
    assert status == 431
    assert b"could not be read" in body


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static../etc/passwd",  # the "off-by-slash" alias mistake
        "/static/..%252f..%252fetc/passwd",
    ],
)
def test_path_traversal_on_static_files_is_refused(stack: Stack, path: str) -> None:
    status, body, _ = send("GET", path)
    assert status in {400, 403, 404}, status
    assert b"root:" not in body


def test_static_files_are_served(stack: Stack) -> None:
    status, body, _ = send("GET", "/static/driftwood.css")
    assert status == 200 and body


def test_the_app_down_gives_the_503_page_at_once(stack: Stack) -> None:
    client = stack.client()
    client.compose.stop(["app"])
    try:
        status, body, seconds = send("GET", "/")
    finally:
        client.compose.start(["app"])
    wait_healthy(stack, "app")
    record("app_down_page", {"status": status, "seconds": round(seconds, 2)})
    assert status == 503
    assert b"unavailable for a moment" in body
    assert seconds < 3


# ---- the running containers ---------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from the host's /proc."""
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                pids += [int(c) for c in (task / "children").read_text().split()]
        index += 1
    return pids


def status_fields(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_no_process_runs_as_root_or_holds_a_capability(stack: Stack) -> None:
    seen = {}
    for name in SERVICES:
        for pid in process_tree(service(stack, name).state.pid):
            fields = status_fields(pid)
            seen[f"{name}:{pid}"] = fields
            assert "0" not in fields["Uid"].split(), (name, fields["Name"], fields["Uid"])
            assert int(fields["CapEff"], 16) == 0, (name, fields["Name"], fields["CapEff"])
            assert fields["NoNewPrivs"] == "1", (name, fields["Name"])
    record("processes", {key: f["Uid"].split()[0] for key, f in seen.items()})


def test_root_filesystems_are_read_only(stack: Stack) -> None:
    for name in SERVICES:
        assert service(stack, name).host_config.readonly_rootfs, name
    app = service(stack, "app")
    with pytest.raises(DockerException, match="Read-only file system"):
        stack.client().execute(app, ["python", "-c", "open('/probe', 'w')"])


def secret_values() -> dict[str, str]:
    folder = ROOT / "secrets"
    return {
        path.name: path.read_text().strip()
        for path in folder.iterdir()
        if path.suffix in {".txt", ".key"}
    }


def image_history(docker: DockerClient, image: str) -> str:
    """The build history of `image` (every step's command), read from its config in a
    `docker save` archive: python-on-whales has no `image history`."""
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "image.tar"
        docker.image.save(image, output=archive)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.size < 2**20 and "blobs/" in member.name:
                    with contextlib.suppress(ValueError, UnicodeDecodeError):
                        document = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                        if isinstance(document, dict) and "history" in document:
                            return json.dumps(document["history"])
    raise LookupError(f"no image config with a history in {image}")


def inspect_document(container: Container) -> str:
    # The whole `docker inspect` document, as an attacker with engine access would read it.
    return container._get_inspect_result().model_dump_json()


def assert_no_secret(places: dict[str, str]) -> None:
    secrets = secret_values()
    assert secrets  # the probe works: there are values to look for
    for place, text in places.items():
        for secret, value in secrets.items():
            assert value not in text, f"{secret} appears in {place}"


def test_no_secret_in_docker_inspect_or_image_history(stack: Stack, docker: DockerClient) -> None:
    places = {f"{name}: inspect": inspect_document(service(stack, name)) for name in SERVICES}
    for image in {service(stack, name).config.image for name in ("nginx", "app")}:
        places[f"{image}: history"] = image_history(docker, image)
    assert_no_secret(places)


def test_no_secret_in_the_environment_of_a_server_process(stack: Stack) -> None:
    # What anything running as the same user inside the container can read.
    assert_no_secret(
        {
            f"{name}: environment": Path(f"/proc/{service(stack, name).state.pid}/environ")
            .read_bytes()
            .decode(errors="replace")
            for name in SERVICES
        }
    )


def test_the_database_answers_only_on_the_backend_network(stack: Stack) -> None:
    assert postgres_answer(stack, "app", "db") in POSTGRES_REPLIES  # the probe works
    for address in ["db", *db_addresses(stack)]:
        assert postgres_answer(stack, "nginx", address) not in POSTGRES_REPLIES, address
    for address in db_addresses(stack):
        assert postgres_reply(address) not in POSTGRES_REPLIES, address


# ---- load ---------------------------------------------------------------------------------


def test_a_short_load_below_saturation_has_no_errors(stack: Stack) -> None:
    browser = sign_up(BASE, "smoke", PASSWORD)
    import_bookmarks(browser, netscape_file(500))
    token = browser.token("bookmarks/new")  # first: the page may renew the session cookie
    cookie = browser.cookie_header()
    figures = {
        "list": load.run(BASE, cookie=cookie, connections=4, seconds=10),
        "search": load.run(BASE + "?q=reading", cookie=cookie, connections=4, seconds=5),
        "add": load.run(BASE, cookie=cookie, connections=4, seconds=5, csrf_token=token),
    }
    record("load_smoke", {kind: dataclasses.asdict(f) for kind, f in figures.items()})
    for kind, result in figures.items():
        assert result.requests > 0, kind
        assert result.errors == 0, (kind, result)


# ---- last: spends the login rate limit ----------------------------------------------------


def test_brute_force_login_meets_nginx_before_the_app_locks_the_account(stack: Stack) -> None:
    sign_up(BASE, "victim", PASSWORD)
    attacker = Browser(BASE)
    token = attacker.token("login")
    answers = []
    for attempt in range(8):
        status, body, _ = send(
            "POST", "/login",
            {"Content-Type": "application/x-www-form-urlencoded",
             "Cookie": attacker.cookie_header()},
            f"csrf_token={token}&username=victim&password=guess{attempt}".encode(),
        )  # fmt: skip
        answers.append((status, b"Too many attempts" in body))
    account = psql(
        stack,
        "select failed_logins, locked_until is not null from users where username = 'victim'",
    )
    record("brute_force", {"answers": [f"{s}{' (nginx)' if n else ''}" for s, n in answers]})
    first_nginx = next(i for i, (status, by_nginx) in enumerate(answers) if by_nginx)
    assert answers[first_nginx][0] == 429
    # The attempts before it reached the app, were refused there, and counted.
    assert [status for status, _ in answers[:first_nginx]] == [200] * first_nginx
    assert first_nginx < 5  # LOGIN_MAX_FAILURES: nginx slows the address down first
    assert account == f"{first_nginx}|f"  # failures counted, the account not locked
