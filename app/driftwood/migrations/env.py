"""Alembic environment: runs only through `driftwood migrate`, never at web start.

The caller (`db.upgrade_schema`) hands over a connection made from the app's own
configuration, so the migrations and the app always agree on the database.
"""

from alembic import context
from sqlalchemy import text

from driftwood.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run the migrations with `driftwood migrate`, which connects for them")

context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    # Two `migrate` one-shots started together (two replicas) must not race each other.
    connection.execute(text("SELECT pg_advisory_xact_lock(4242)"))
    context.run_migrations()
