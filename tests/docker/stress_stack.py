"""The production stack the stress tests break: its own project name and ports, so it never
collides with `invoke up` or another test run, and the figures they record."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from ops.lessons.probes import wait_for
from ops.stack import Stack, down, prepare, up
from tests.docker.stacks import psql, unchecked_tls

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports" / "stress"
PROJECT = "driftwood-stress"
HTTPS_PORT, HTTP_PORT = 9443, 9080
BASE = f"https://127.0.0.1:{HTTPS_PORT}/"
PASSWORD = "stress-password-123"  # a throwaway account in a throwaway stack
# The tag a deploy test gives the same app image, so compose sees a new one to roll out.
NEXT_TAG = "stress-next"


def stress_stack(tag: str = "stress") -> Stack:
    return Stack(
        ROOT,
        prod=True,
        project=PROJECT,
        overrides=(
            ("DRIFTWOOD_HTTP_PORT", str(HTTP_PORT)),
            ("DRIFTWOOD_HTTPS_PORT", str(HTTPS_PORT)),
            ("DRIFTWOOD_TAG", tag),
            ("DRIFTWOOD_SIGNUP_ENABLED", "true"),
        ),
    )


def running_stack(docker: DockerClient) -> Iterator[Stack]:
    """Up (fresh volumes), yielded to one test module, then down with its volumes."""
    stack = stress_stack()
    prepare(stack, docker)
    down(stack, volumes=True)  # what an interrupted earlier run left behind
    try:
        up(stack)
        yield stack
    finally:
        down(stack, volumes=True)
        with contextlib.suppress(DockerException):
            docker.image.remove(f"driftwood-app:{NEXT_TAG}")


def service(stack: Stack, name: str) -> Container:
    return stack.client().compose.ps([name])[0]


def healthy(stack: Stack, name: str) -> bool:
    container = service(stack, name)
    return bool(container.state.running) and (
        container.state.health is None or container.state.health.status == "healthy"
    )


def wait_healthy(stack: Stack, name: str, timeout: float = 90) -> float:
    """Seconds until `name` is running and healthy."""
    started = time.monotonic()
    wait_for(f"{name} healthy", lambda: healthy(stack, name), timeout)
    return time.monotonic() - started


def record(name: str, figures: dict[str, Any]) -> None:
    """Keep a test's measurements in reports/stress/NAME.json (tests assert the claims;
    the numbers themselves are for the report)."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    stamped = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **figures}
    (REPORTS / f"{name}.json").write_text(json.dumps(stamped, indent=2) + "\n")


def status(path: str, timeout: float = 10) -> int | None:
    """The status nginx answers `path` with (no cookies), or None when nothing answers."""
    tls = unchecked_tls()
    try:
        with urllib.request.urlopen(BASE + path, context=tls, timeout=timeout) as reply:  # noqa: S310
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def bookmark_urls(stack: Stack, prefix: str) -> set[str]:
    # The prefixes are the tests' own constants, never input.
    rows = psql(stack, f"select url from bookmarks where url like '{prefix}%'")  # noqa: S608
    return set(rows.splitlines()) if rows else set()


def server_errors(stack: Stack) -> list[str]:
    """What a 500 was: the last line of each exception the app logged (JSON), and gunicorn's
    own error lines (an exception outside the app's request handling)."""
    errors = []
    for line in stack.client().compose.logs(["app"], no_log_prefix=True).splitlines():
        if '"exception"' in line:
            with contextlib.suppress(ValueError):
                errors.append(json.loads(line)["exception"].strip().splitlines()[-1])
        elif "[ERROR]" in line:
            errors.append(line)
    return errors
