"""The browser tests reuse the integration tests' PostgreSQL (server and migrated schema)."""

from tests.integration.conftest import database_url, engine

__all__ = ["database_url", "engine"]
