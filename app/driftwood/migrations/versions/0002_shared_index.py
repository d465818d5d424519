"""Index the bookmarks other users may see, newest first, for the /shared page.

`visibility IN ('shared', 'public') ORDER BY created_at` cannot walk the
(visibility, created_at, id) index in order, so PostgreSQL sorted every shared bookmark of
the instance for each page (over a second with 1,000,000 bookmarks). A partial index holds
exactly those rows in page order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain CREATE INDEX (not CONCURRENTLY): it runs in the migration's transaction, and
    # `driftwood migrate` runs before the new app version starts taking traffic.
    op.create_index(
        "bookmarks_shared_created_at_idx",
        "bookmarks",
        ["created_at", "id"],
        postgresql_where=sa.text("visibility <> 'private'"),
    )


def downgrade() -> None:
    op.drop_index("bookmarks_shared_created_at_idx", table_name="bookmarks")
