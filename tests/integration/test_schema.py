"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from driftwood.models import Base


def test_migrations_match_the_models(connection):
    differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_the_search_document_weighs_title_over_description(connection):
    connection.execute(text("INSERT INTO users (username, password_hash) VALUES ('a', 'x')"))
    connection.execute(
        text(
            "INSERT INTO bookmarks (user_id, url, url_normalized, title, description)"
            " SELECT id, 'https://Example.org/x', 'https://example.org/x', 'kettle', 'teapot'"
            " FROM users"
        )
    )
    row = connection.execute(text("SELECT search::text, host FROM bookmarks")).one()
    assert "'kettle':1A" in row.search
    assert "'teapot':2B" in row.search
    assert row.host == "example.org"
