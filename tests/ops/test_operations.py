"""Chapter 11's pure logic: log caps from json-file options, request counts from /metrics
text, and the causes `invoke diagnose` reads in a crash-looping container's log."""

import pytest

from ops.diagnose import Diagnosis, named_in_logs
from ops.lessons.ch11 import log_cap, request_count, size_bytes

# The last lines of the migration job when the database has another password (psycopg 3).
REJECTED = [
    "    raise last_ex.with_traceback(None)",
    "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed: connection "
    'to server at "172.28.0.2", port 5432 failed: FATAL:  password authentication failed for '
    'user "driftwood"',
    "(Background on this error at: https://sqlalche.me/e/21/e3q8)",
]
METRICS = """\
# HELP driftwood_http_requests_total HTTP requests by endpoint, method and status
# TYPE driftwood_http_requests_total counter
driftwood_http_requests_total{endpoint="auth.login",method="GET",status="200"} 58.0
driftwood_http_requests_total{endpoint="auth.login",method="POST",status="303"} 2.0
driftwood_http_requests_total{endpoint="ops.healthz",method="GET",status="200"} 7.0
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1m", 2**20), ("512k", 512 * 2**10), ("10M", 10 * 2**20), ("2g", 2 * 2**30), ("100", 100),
     ("1mb", 2**20), ("1.5m", int(1.5 * 2**20))],
)  # fmt: skip
def test_size_bytes_reads_the_drivers_units(text: str, expected: int) -> None:
    assert size_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "m", "ten", "1t", "-1m"])
def test_size_bytes_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="not a log size"):
        size_bytes(text)


def test_log_cap_is_size_times_files_and_none_without_a_size() -> None:
    assert log_cap({"max-size": "1m", "max-file": "3"}) == 3 * 2**20
    assert log_cap({"max-size": "10m"}) == 10 * 2**20  # one file when max-file is unset
    assert log_cap({}) is None
    assert log_cap({"max-file": "3"}) is None  # max-file alone bounds nothing


def test_request_count_sums_one_endpoint_over_methods_and_statuses() -> None:
    assert request_count(METRICS, "auth.login") == 60
    assert request_count(METRICS, "bookmarks.index") == 0


def test_a_rejected_password_is_named_from_the_log() -> None:
    named = named_in_logs(REJECTED)
    assert named is not None
    assert named.startswith('password authentication failed for user "driftwood"')
    assert "POSTGRES_PASSWORD" in named


def test_nothing_is_named_from_an_ordinary_log() -> None:
    assert named_in_logs(["[INFO] Booting worker with pid: 13", "GET /healthz 200"]) is None


def _crashed(**changes: object) -> Diagnosis:
    fields: dict = dict(container="c", service="migrate", status="exited", health="-",
                        exit_code=1, restarts=3, oom_killed=False, memory_limit_mb=None, ooms=0,
                        deaths={1: 4}, logs=REJECTED)  # fmt: skip
    return Diagnosis(**(fields | changes))


def test_the_cause_of_a_crash_loop_is_the_failure_its_log_names() -> None:
    cause = _crashed().cause
    assert "password authentication failed" in cause
    assert "exit code 1, 3 restart(s)" in cause


def test_an_oom_kill_outranks_what_the_log_says() -> None:
    assert _crashed(ooms=1, deaths={137: 1}).cause.startswith("out of memory")


def test_a_healthy_container_is_not_blamed_on_an_old_log_line() -> None:
    cause = _crashed(status="running", health="healthy", exit_code=0, restarts=0, deaths={}).cause
    assert cause == "running normally"
