"""Configuration: defaults, then DRIFTWOOD_* environment variables, then *_FILE secrets.

12-factor style: everything comes from the environment. Any DRIFTWOOD_X_FILE variable is
read from that file into X (the Docker secrets convention: /run/secrets/...). The app
refuses to start, with a message that says what to set, when a required setting is missing
or a secret is a well-known placeholder.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config
from sqlalchemy import make_url

PREFIX = "DRIFTWOOD"

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,
    "DATABASE_PASSWORD": None,
    "DATABASE_POOL_SIZE": 5,
    # Seconds. The database is on the same network: a connection not made in 2 s (libpq's
    # minimum) is not coming. It bounds how long a request, and /readyz, waits on a database
    # that is gone: 5 s here made /readyz turn 503 only after 5.06 s in the fault test.
    "DATABASE_CONNECT_TIMEOUT": 2,
    "SIGNUP_ENABLED": True,
    "TRUSTED_PROXIES": 0,  # how many proxies (nginx) set X-Forwarded-*; 0 trusts none
    # Every request body but a bookmark file (MAX_IMPORT_BYTES). Without nginx in front
    # (gunicorn alone), this is what stops one request from filling the memory.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": None,  # Flask's separate per-field limit: the one above is enough
    "MAX_IMPORT_BYTES": 20 * 1024 * 1024,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_SECONDS": 300,
    "PAGE_SIZE": 30,
    # Cookies: never readable from JavaScript, not sent on cross-site POSTs. Secure (HTTPS
    # only) is switched on with DRIFTWOOD_SESSION_COOKIE_SECURE=true behind TLS.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
}

REQUIRED = ("SECRET_KEY", "DATABASE_URL")
SECRETS = ("SECRET_KEY", "DATABASE_PASSWORD")
# Placeholders copied from examples and tutorials: starting with one is never intended.
KNOWN_DEFAULTS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "dev", "development", "test"}
    | {"driftwood", "postgres", "example", "your-secret-key", "supersecret", "default"}
)
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def load_environment(config: Config) -> None:
    """Apply DRIFTWOOD_* variables (values parsed as JSON when they are) and *_FILE secrets."""
    config.from_prefixed_env(PREFIX)
    for key in [k for k in config if k.endswith("_FILE")]:
        path = config.pop(key)
        try:
            config[key.removesuffix("_FILE")] = Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"{PREFIX}_{key}={path}: cannot read the file ({error})") from None


def validate(config: Mapping[str, Any]) -> None:
    problems = [
        f"{PREFIX}_{key} (or {PREFIX}_{key}_FILE) is not set"
        for key in REQUIRED
        if not config.get(key)
    ]
    for key in SECRETS:
        value = config.get(key)
        if value is not None and str(value).strip().lower() in KNOWN_DEFAULTS:
            problems.append(f"{PREFIX}_{key} is a well-known placeholder; generate a real secret")
    url = config.get("DATABASE_URL")
    if url and (make_url(str(url)).password or "").lower() in KNOWN_DEFAULTS - {""}:
        problems.append(f"{PREFIX}_DATABASE_URL holds a well-known placeholder password")
    key = config.get("SECRET_KEY")
    if key and len(str(key)) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"{PREFIX}_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters; generate"
            ' one with: python -c "import secrets; print(secrets.token_hex(32))"'
        )
    if problems:
        raise ConfigError("Driftwood cannot start:\n  - " + "\n  - ".join(problems))
