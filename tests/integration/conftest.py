"""A real PostgreSQL for the integration tests.

DRIFTWOOD_TEST_DATABASE_URL names an existing (throwaway!) database; otherwise a server is
started from the host's PostgreSQL binaries in a temporary directory on a free port and
stopped at the end. The schema comes from the Alembic migrations, once per session. Each
test runs inside an outer transaction that is rolled back, so tests never see each other.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from driftwood import create_app, db
from tests.conftest import TEST_SETTINGS, require

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark every test in this folder, so `pytest -m "not integration"` skips them all.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: drop to the `postgres` system user.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def throwaway_postgres(bindir: Path, *, settings: str = "") -> Iterator[str]:
    """Start a PostgreSQL server in a temporary directory on a free port; yield its URL.

    `settings` adds server options (`-c name=value ...`), e.g. for benchmarks.
    """
    workdir = Path(tempfile.mkdtemp(prefix="driftwood-pg-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    data, port = workdir / "data", _free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={workdir}"
    options += " -c fsync=off -c full_page_writes=off"  # a throwaway server: speed over safety
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        _as_postgres(
            [*pg_ctl, "-l", str(workdir / "log"), "-o", f"{options} {settings}", "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([*pg_ctl, "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    given = os.environ.get("DRIFTWOOD_TEST_DATABASE_URL")
    if given:
        yield given
        return
    bindir = _postgres_bin()
    require(bindir is not None, "PostgreSQL server binaries (apt-get install postgresql)")
    assert bindir is not None
    with throwaway_postgres(bindir) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        db.upgrade_schema(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    # Every session of the test joins the outer transaction; their commits become
    # savepoints, and the final rollback undoes everything.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def app(database_url: str, sessions: sessionmaker[Session]):
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url})
    db.get_db(app).sessions = sessions
    yield app
    db.get_db(app).engine.dispose()  # /readyz and `driftwood migrate` use the real engine


PASSWORD = "correct horse battery"


def form_post(client, url: str, data: dict | None = None, **kwargs):
    """POST a form the way the browser does: with the session's CSRF token."""
    with client.session_transaction() as cookie_session:
        token = cookie_session.setdefault("csrf_token", "test-csrf-token")
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


@pytest.fixture
def make_user(session: Session):
    from driftwood.accounts import create_user

    def make(username: str):
        user = create_user(session, username, PASSWORD)
        session.commit()  # releases a savepoint only: the outer transaction still rolls back
        return user

    return make


@pytest.fixture
def login():
    def log_in(client, user) -> None:
        response = form_post(client, "/login", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)

    return log_in


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")
