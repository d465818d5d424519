"""Initial schema: users, API tokens, bookmarks with full-text search, tags.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Copied, not imported, from models.py: a migration must keep meaning what it meant when
# it was written, whatever the models say later.
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('simple', coalesce(description, '')), 'B')"
    " || setweight(to_tsvector('simple', coalesce(notes, '') || ' ' || url), 'C')"
)
HOST_EXPRESSION = (
    r"substring(url_normalized from '^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^]/?#]*\]|[^/?#:]*)')"
)


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _timestamp("created_at"),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("users_username_lower_key", "users", [sa.text("lower(username)")], unique=True)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        _timestamp("created_at"),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    visibility = postgresql.ENUM("private", "shared", "public", name="visibility")
    op.create_table(
        "bookmarks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_normalized", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("unread", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("visibility", visibility, server_default="private", nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("host", sa.Text(), sa.Computed(HOST_EXPRESSION, persisted=True)),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(SEARCH_DOCUMENT, persisted=True),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "user_id", "url_normalized", name="bookmarks_user_id_url_normalized_key"
        ),
    )
    op.create_index(
        "bookmarks_user_id_created_at_id_idx", "bookmarks", ["user_id", "created_at", "id"]
    )
    op.create_index(
        "bookmarks_visibility_created_at_idx", "bookmarks", ["visibility", "created_at", "id"]
    )
    op.create_index("bookmarks_search_idx", "bookmarks", ["search"], postgresql_using="gin")
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.create_index(
        "tags_user_id_lower_name_key", "tags", ["user_id", sa.text("lower(name)")], unique=True
    )
    op.create_table(
        "bookmark_tags",
        sa.Column(
            "bookmark_id",
            sa.Integer(),
            sa.ForeignKey("bookmarks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "tag_id", sa.Integer(), sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_bookmark_tags_tag_id", "bookmark_tags", ["tag_id"])


def downgrade() -> None:
    op.drop_table("bookmark_tags")
    op.drop_table("tags")
    op.drop_table("bookmarks")
    op.drop_table("api_tokens")
    op.drop_table("users")
    sa.Enum(name="visibility").drop(op.get_bind())
