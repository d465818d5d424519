"""The database connection: one engine per app, one session per request.

The engine and its `sessionmaker` are built once in `init_app`. A view gets its session
from `get_session()`; it lives on `g` and is closed when the app context ends. Views that
write call `session.commit()` themselves; anything not committed is rolled back on close.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlalchemy import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

MIGRATIONS = Path(__file__).parent / "migrations"
MAX_ID = 2**31 - 1  # the id columns are PostgreSQL integers


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a larger number than the id columns hold is a 404 like any
    missing row, not an "integer out of range" error from the database. (Not `max=`: a
    number the converter refuses makes werkzeug answer 405 when another method's route
    has the same path.)"""

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise NotFound()
        return number


def parse_ids(values: Iterable[str]) -> list[int]:
    """The ids among form values (`ids=3&ids=7`); anything else is ignored."""
    return [int(v) for v in values if v.isascii() and v.isdigit() and int(v) <= MAX_ID]


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def database_url(url: str, password: str | None) -> URL:
    """The configured URL, with the password (from its own secret) filled in when given."""
    parsed = make_url(url)
    return parsed.set(password=password) if password else parsed


def init_app(app: Flask) -> None:
    engine = create_engine(
        database_url(app.config["DATABASE_URL"], app.config.get("DATABASE_PASSWORD")),
        pool_size=app.config["DATABASE_POOL_SIZE"],
        # Connections that died while idle (a database restart) are replaced, not handed out.
        pool_pre_ping=True,
        connect_args={"connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT"]},
    )
    app.extensions["driftwood.db"] = Database(engine, sessionmaker(engine, expire_on_commit=False))
    app.url_map.converters["id"] = IdConverter  # before the blueprints add their routes
    app.teardown_appcontext(close_session)


def get_db(app: Flask | None = None) -> Database:
    database: Database = (app or current_app).extensions["driftwood.db"]
    return database


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    session: Session = g.db_session
    return session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except DBAPIError as error:
        # The connection died with the database mid-request (the response, a 503, is already
        # made): closing rolls back on a dead socket. Raised here, after Flask's error
        # handling, it would turn into the WSGI server's bare 500.
        logging.getLogger("driftwood").warning("closing a dead database session: %s", error)


def upgrade_schema(connection: Connection, revision: str = "head") -> None:
    """Apply the Alembic migrations shipped inside the package up to `revision`."""
    settings = AlembicConfig()
    settings.set_main_option("script_location", str(MIGRATIONS))
    settings.attributes["connection"] = connection
    command.upgrade(settings, revision)
