"""Helpers for the tests that bring up the compose stack: SQL through the `psql` tool
service, and PostgreSQL probes from inside its containers (ops/lessons/probes.py)."""

from __future__ import annotations

from ops.lessons.probes import postgres_reply_from
from ops.stack import Stack


def psql(stack: Stack, sql: str) -> str:
    """Run SQL through the `psql` tool service (the database publishes no port)."""
    output = stack.client().compose.run(
        "psql", ["psql", "--tuples-only", "--no-align", "--command", sql], remove=True, tty=False
    )
    return str(output).strip()


def postgres_answer(stack: Stack, service: str, host: str) -> str:
    """What a PostgreSQL probe from inside `service` gets back from host:5432 ("" if nothing)."""
    container = stack.client().compose.ps([service])[0]
    # No shell in the app image: the same probe in Python.
    return postgres_reply_from(stack.client(), container, host, python=service == "app")


def db_addresses(stack: Stack) -> list[str]:
    db = stack.client().compose.ps(["db"])[0]
    return [settings.ip_address for settings in db.network_settings.networks.values()]
