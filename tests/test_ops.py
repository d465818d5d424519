"""Health, metrics and request logs: none of these need the database."""

import json
import logging

import pytest
from prometheus_client import values

from driftwood import create_app
from tests.conftest import TEST_SETTINGS


def test_healthz_answers_without_a_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_503_when_the_database_is_down(client):
    # The test settings point at port 9 on localhost, where nothing listens.
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"


def test_a_sane_request_id_is_kept_and_a_forged_one_replaced(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    replaced = client.get("/healthz", headers={"X-Request-ID": 'x", "admin": true'})
    assert replaced.headers["X-Request-ID"] not in ("", 'x", "admin": true')


def test_each_request_logs_one_json_line(client, caplog):
    from driftwood.ops import JSONFormatter

    with caplog.at_level(logging.INFO, logger="driftwood.request"):
        client.get("/healthz", headers={"X-Request-ID": "req-1"})
    lines = [json.loads(JSONFormatter().format(record)) for record in caplog.records]
    [line] = [line for line in lines if line.get("request_id") == "req-1"]
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["endpoint"] == "ops.healthz"
    assert line["duration_ms"] >= 0


def test_metrics_count_requests_by_endpoint_and_show_the_pool(client):
    client.get("/healthz")
    client.get("/no-such-page")
    body = client.get("/metrics").get_data(as_text=True)
    assert (
        'driftwood_http_requests_total{endpoint="ops.healthz",method="GET",status="200"} 1.0'
        in body
    )
    assert 'endpoint="unmatched",method="GET",status="404"' in body
    assert "driftwood_http_request_duration_seconds_bucket" in body
    assert "driftwood_db_pool_size 5.0" in body


@pytest.fixture
def multiprocess_dir(monkeypatch):
    """Put metrics in gunicorn's multiprocess mode, as in production, in a given directory.

    prometheus_client picks its value class when it is imported, from the environment:
    each test gets a fresh one (and a fresh app, whose metrics use it) with no open files."""

    def use(directory) -> None:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())

    yield use
    values.close_all_multiprocess_files()


def test_multiprocess_metrics_add_up_in_the_shared_directory(multiprocess_dir, tmp_path):
    multiprocess_dir(tmp_path)
    client = create_app(dict(TEST_SETTINGS)).test_client()
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'driftwood_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}' in body


@pytest.mark.parametrize("where", ["missing/dir", "a-file/dir"])
def test_metrics_that_cannot_be_written_never_fail_a_request(
    multiprocess_dir, tmp_path, caplog, where: str
):
    (tmp_path / "a-file").write_text("not a directory")
    multiprocess_dir(tmp_path / where)  # gone, or a file in its way: opening fails
    client = create_app(dict(TEST_SETTINGS)).test_client()
    with caplog.at_level(logging.INFO, logger="driftwood"):
        statuses = [client.get("/healthz").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    # Said once, as a structured line naming the cause, not once per request.
    [failure] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "metrics" in failure.getMessage()
    assert str(tmp_path / where) in failure.fields["error"]
    assert len([r for r in caplog.records if r.name == "driftwood.request"]) == 3


def test_the_json_formatter_keeps_exceptions():
    from driftwood.ops import JSONFormatter

    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", None, exc_info=True)
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JSONFormatter().format(record))
    assert line["message"] == "failed"
    assert "ValueError: boom" in line["exception"]


def test_a_crash_is_answered_with_500_and_logged_as_json_with_its_request_id(app):
    import io

    from driftwood.ops import JSONFormatter

    @app.get("/crash")
    def crash():
        raise RuntimeError("kaboom")

    app.testing = False  # answer with a 500, as in production, instead of raising
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    logging.getLogger("driftwood").addHandler(handler)
    try:
        response = app.test_client().get("/crash", headers={"X-Request-ID": "crash-1"})
    finally:
        logging.getLogger("driftwood").removeHandler(handler)
    assert response.status_code == 500
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [error] = [line for line in lines if "RuntimeError: kaboom" in line.get("exception", "")]
    [access] = [line for line in lines if line.get("path") == "/crash"]
    assert error["request_id"] == access["request_id"] == "crash-1"
    assert access["status"] == 500


def _raising(app, name: str, error: Exception) -> None:
    def view():
        raise error

    app.add_url_rule(f"/boom/{name}", name, view)


def test_a_lost_connection_of_any_driver_class_is_a_503_and_a_bug_is_a_500(app):
    from sqlalchemy.exc import DatabaseError, ProgrammingError

    # A server killed mid-query can surface as another class than OperationalError;
    # SQLAlchemy marks it connection_invalidated.
    _raising(
        app, "lost", DatabaseError("SELECT 1", {}, Exception("EOF"), connection_invalidated=True)
    )
    _raising(app, "bug", ProgrammingError("SELEC 1", {}, Exception("syntax error")))
    app.testing = False  # a 500 as a user gets it, not the exception re-raised into the test
    client = app.test_client()
    lost = client.get("/boom/lost")
    assert lost.status_code == 503
    assert lost.headers["Retry-After"] == "5"
    assert client.get("/boom/bug").status_code == 500


def test_a_session_that_cannot_close_on_a_dead_connection_does_not_fail_the_request(app):
    from flask import g
    from sqlalchemy.exc import OperationalError

    class DeadSession:
        def close(self) -> None:
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    def view():
        g.db_session = DeadSession()
        return "answered"

    app.add_url_rule("/dead-session", "dead_session", view)
    response = app.test_client().get("/dead-session")
    assert (response.status_code, response.text) == (200, "answered")
