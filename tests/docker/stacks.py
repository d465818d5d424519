"""Helpers for the tests that bring up the compose stack: free ports, pages through nginx,
SQL through the `psql` tool service, and PostgreSQL probes from inside its containers
(ops/lessons/probes.py)."""

from __future__ import annotations

import socket
import ssl
import time
import urllib.request

from python_on_whales.exceptions import DockerException

from ops.lessons.probes import postgres_reply_from
from ops.stack import Stack

# Settings the app refuses to start without, for an image run on its own: the database is
# never reached.
APP_ENV = {
    "DRIFTWOOD_SECRET_KEY": "t" * 64,
    "DRIFTWOOD_DATABASE_URL": "postgresql+psycopg://driftwood@db.invalid:5432/driftwood",
}


def psql(stack: Stack, sql: str, attempts: int = 3) -> str:
    """Run SQL through the `psql` tool service (the database publishes no port).

    Tried again when the name `db` does not resolve: seen once, with the database running,
    on a test host at load average 14 on 2 cores (the engine's embedded DNS answering late,
    most likely; not established).
    """
    command = ["psql", "--tuples-only", "--no-align", "--command", sql]

    def run() -> str:
        return str(stack.client().compose.run("psql", command, remove=True, tty=False)).strip()

    for _ in range(attempts - 1):
        try:
            return run()
        except DockerException as error:
            if "could not translate host name" not in str(error):
                raise
            time.sleep(2)
    return run()


def postgres_answer(stack: Stack, service: str, host: str) -> str:
    """What a PostgreSQL probe from inside `service` gets back from host:5432 ("" if nothing)."""
    container = stack.client().compose.ps([service])[0]
    # No shell in the app image: the same probe in Python.
    return postgres_reply_from(stack.client(), container, host, python=service == "app")


def db_addresses(stack: Stack) -> list[str]:
    db = stack.client().compose.ps(["db"])[0]
    return [settings.ip_address for settings in db.network_settings.networks.values()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unchecked_tls() -> ssl.SSLContext:
    """TLS that accepts the production layering's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def get_text(address: str) -> str:
    """A page's text, through nginx (HTTP or HTTPS)."""
    with urllib.request.urlopen(address, context=unchecked_tls(), timeout=10) as response:  # noqa: S310
        return response.read().decode()
