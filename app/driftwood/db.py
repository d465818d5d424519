"""The database connection: one engine per app, one session per request.

The engine and its `sessionmaker` are built once in `init_app`. A view gets its session
from `get_session()`; it lives on `g` and is closed when the app context ends. Views that
write call `session.commit()` themselves; anything not committed is rolled back on close.
"""

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlalchemy import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


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
    if session is not None:
        session.close()


def upgrade_schema(connection: Connection, revision: str = "head") -> None:
    """Apply the Alembic migrations shipped inside the package up to `revision`."""
    settings = AlembicConfig()
    settings.set_main_option("script_location", str(MIGRATIONS))
    settings.attributes["connection"] = connection
    command.upgrade(settings, revision)
