"""The database schema as typed SQLAlchemy 2 models.

Every row that belongs to someone carries `user_id`, so that every query can (and must)
filter by its owner. The migrations in `migrations/` create exactly these tables.
"""

import enum
from datetime import datetime

from sqlalchemy import (
    Column,
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Visibility(enum.Enum):
    PRIVATE = "private"  # only the owner
    SHARED = "shared"  # every signed-in user of this instance
    PUBLIC = "public"  # anyone, and the public feeds


# The full-text document: title weighs most, then description, then notes and URL.
# 'simple' (no stemming, no stop words) because bookmarks come in every language.
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('simple', coalesce(description, '')), 'B')"
    " || setweight(to_tsvector('simple', coalesce(notes, '') || ' ' || url), 'C')"
)
# The host of the normalised URL (without user info or port), for `site:` searches.
HOST_EXPRESSION = (
    r"substring(url_normalized from '^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^]/?#]*\]|[^/?#:]*)')"
)


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = _now_column()
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"User({self.id!r}, {self.username!r})"


class UnknownLogin(Base):
    """Failed logins for a name that has no account, counted in the same two columns as a
    user's: the lockout must not tell which accounts exist. Keyed by the SHA-256 of the
    lowercased name, so no text an attacker typed is stored."""

    __tablename__ = "unknown_logins"

    name_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Only the SHA-256 of the key is stored: a leaked database does not leak usable keys.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


bookmark_tags = Table(
    "bookmark_tags",
    Base.metadata,
    Column("bookmark_id", ForeignKey("bookmarks.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))

    def __repr__(self) -> str:
        return f"Tag({self.id!r}, {self.name!r})"


# Names are unique regardless of case: "Python" and "python" are one user, one tag.
Index("users_username_lower_key", func.lower(User.username), unique=True)
Index("tags_user_id_lower_name_key", Tag.user_id, func.lower(Tag.name), unique=True)


class Bookmark(Base):
    __tablename__ = "bookmarks"
    __table_args__ = (
        UniqueConstraint("user_id", "url_normalized", name="bookmarks_user_id_url_normalized_key"),
        # The list order (newest first) and its keyset pagination walk this index.
        Index("bookmarks_user_id_created_at_id_idx", "user_id", "created_at", "id"),
        Index("bookmarks_search_idx", "search", postgresql_using="gin"),
        Index("bookmarks_visibility_created_at_idx", "visibility", "created_at", "id"),
        # Everything other users may see (the /shared page), newest first.
        Index(
            "bookmarks_shared_created_at_idx",
            "created_at",
            "id",
            postgresql_where=text("visibility <> 'private'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    url_normalized: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="", server_default="")
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    unread: Mapped[bool] = mapped_column(default=False, server_default="false")
    visibility: Mapped[Visibility] = mapped_column(
        Enum(Visibility, name="visibility", values_callable=lambda e: [m.value for m in e]),
        default=Visibility.PRIVATE,
        server_default=Visibility.PRIVATE.value,
    )
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    host: Mapped[str | None] = mapped_column(Text, Computed(HOST_EXPRESSION, persisted=True))
    search: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), deferred=True
    )

    user: Mapped[User] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=bookmark_tags, order_by=Tag.name)

    def __repr__(self) -> str:
        return f"Bookmark({self.id!r}, {self.url!r})"
