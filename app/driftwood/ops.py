"""Operations: health probes, Prometheus metrics and one JSON log line per request.

- /healthz: the process answers (liveness; never touches the database, so a database
  outage does not make the orchestrator restart healthy web containers).
- /readyz: the database answers within a short timeout (readiness), 503 otherwise.
- /metrics: request counts and latencies by endpoint, and the connection pool's state.
Each request gets an id: nginx's X-Request-ID when it sends a sane one, a new one otherwise;
it is echoed in the response and in the log line, so one request can be followed end to end.
"""

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
)
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import QueuePool

from driftwood.db import get_db

bp = Blueprint("ops", __name__)
log = logging.getLogger("driftwood.request")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")  # anything else could forge log lines


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():  # any log line written while answering a request
            line["request_id"] = g.get("request_id")
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class PoolCollector(Collector):
    """The SQLAlchemy pool of this process, read at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            for name, value, doc in (
                ("size", pool.size(), "configured pool size"),
                ("checked_out", pool.checkedout(), "connections in use"),
                ("checked_in", pool.checkedin(), "idle connections in the pool"),
                ("overflow", pool.overflow(), "connections beyond the pool size"),
            ):
                yield GaugeMetricFamily(f"driftwood_db_pool_{name}", doc, value=value)


def init_app(app: Flask) -> None:
    _configure_logging()
    registry = CollectorRegistry()
    metrics = {
        "requests": Counter(
            "driftwood_http_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=registry,
        ),
        "latency": Histogram(
            "driftwood_http_request_duration_seconds",
            "Time to answer a request, by endpoint",
            ["endpoint", "method"],
            registry=registry,
        ),
        "registry": registry,
        "pool": PoolCollector(get_db(app).engine),
        "failing": False,  # recording failed and was logged: not again for every request
    }
    registry.register(metrics["pool"])
    app.extensions["driftwood.metrics"] = metrics
    app.before_request(_start)
    app.after_request(_finish)


def _configure_logging() -> None:
    logger = logging.getLogger("driftwood")
    if not any(getattr(h, "driftwood", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)  # 12-factor: logs are an event stream
        handler.setFormatter(JSONFormatter())
        handler.driftwood = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _start() -> None:
    g.started = time.perf_counter()
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
    _record(endpoint, response.status_code, elapsed)
    response.headers["X-Request-ID"] = g.get("request_id", "")
    user = g.get("user")
    # The identity the session recorded, not `user.id`: after a database error mid-request
    # the session rolled back and expired the user, and reading an attribute would go back
    # to the dead database from inside the response (a 500 instead of the 503 just made).
    identity = sa_inspect(user).identity if user is not None else None
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path,
        "endpoint": endpoint,
        "status": response.status_code,
        "duration_ms": round(elapsed * 1000, 2),
        "remote_addr": request.remote_addr,
        "user_id": identity[0] if identity else None,
    }
    log.info(
        "%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields}
    )
    return response


def _record(endpoint: str, status: int, elapsed: float) -> None:
    """Count the request in the metrics, which must never cost the request itself.

    With several workers the values live in files under PROMETHEUS_MULTIPROC_DIR (a tmpfs
    in production): when it is gone or read-only, opening them fails. The request is served
    all the same, and the failure logged once per process, not once per request; each request
    tries again, so the metrics come back with the directory."""
    metrics = current_app.extensions["driftwood.metrics"]
    try:
        metrics["requests"].labels(endpoint, request.method, status).inc()
        metrics["latency"].labels(endpoint, request.method).observe(elapsed)
    except Exception as error:  # whatever breaks in the metrics library: never the request's
        if not metrics["failing"]:
            metrics["failing"] = True
            fields = {"error": str(error), "directory": os.environ.get("PROMETHEUS_MULTIPROC_DIR")}
            logging.getLogger("driftwood").error(
                "metrics cannot be recorded; serving requests without them",
                extra={"fields": fields},
            )


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    try:
        with get_db().engine.connect() as connection:
            connection.execute(text("SET LOCAL statement_timeout = '2s'"))
            connection.execute(text("SELECT 1"))
    except Exception as error:
        logging.getLogger("driftwood").warning("readiness check failed: %s", error)
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200


@bp.app_errorhandler(DBAPIError)
def database_unavailable(error: DBAPIError) -> tuple[str | Response, int, dict[str, str]]:
    """The database is down or restarting: a temporary state, so 503 with Retry-After and a
    page that says so, not a 500 that reads like a bug. The pool's pre-ping replaces the dead
    connections once it is back: no restart needed.

    Operational and interface errors are that state; so is any other driver error that
    SQLAlchemy recognised as a lost connection (it marks it `connection_invalidated`: a
    server killed mid-query can surface as another class). Anything else is a bug: a 500."""
    if not (isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated):
        raise error
    logging.getLogger("driftwood").warning("database unavailable: %s", error.orig)
    retry = {"Retry-After": "5"}
    if request.path.startswith("/api/"):
        return jsonify(error="The database is unavailable; try again shortly."), 503, retry
    return render_template("unavailable.html"), 503, retry


@bp.get("/metrics")
def metrics() -> Response:
    metrics = current_app.extensions["driftwood.metrics"]
    registry = metrics["registry"]
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # Several gunicorn workers: add up every worker's counters from the shared
        # directory; the pool gauges are those of the worker that answers.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(metrics["pool"])
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
