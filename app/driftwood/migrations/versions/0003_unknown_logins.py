"""Count failed logins for names without an account, so that they lock like real ones.

Only accounts counted failures, so a name that never locked after five wrong passwords
had no account: the lockout told an attacker which usernames exist.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unknown_logins",
        sa.Column("name_hash", sa.String(64), primary_key=True),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("unknown_logins")
