"""Configuration: environment, *_FILE secrets, and refusing unsafe settings."""

import pytest
from flask import Config

from driftwood import config, create_app

GOOD_KEY = "k" * 40
URL = "postgresql+psycopg://driftwood@db:5432/driftwood"


def loaded(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Config(".", config.DEFAULTS)
    config.load_environment(settings)
    return settings


def test_prefixed_variables_are_typed_like_json(monkeypatch):
    settings = loaded(monkeypatch, DRIFTWOOD_SIGNUP_ENABLED="false", DRIFTWOOD_TRUSTED_PROXIES="1")
    assert settings["SIGNUP_ENABLED"] is False
    assert settings["TRUSTED_PROXIES"] == 1


def test_secrets_are_read_from_files(monkeypatch, tmp_path):
    (tmp_path / "key").write_text(GOOD_KEY + "\n")
    (tmp_path / "pw").write_text("s3cret-from-file\n")
    settings = loaded(
        monkeypatch,
        DRIFTWOOD_SECRET_KEY_FILE=str(tmp_path / "key"),
        DRIFTWOOD_DATABASE_PASSWORD_FILE=str(tmp_path / "pw"),
    )
    assert settings["SECRET_KEY"] == GOOD_KEY
    assert settings["DATABASE_PASSWORD"] == "s3cret-from-file"
    assert "SECRET_KEY_FILE" not in settings


def test_an_unreadable_secret_file_is_named(monkeypatch, tmp_path):
    with pytest.raises(config.ConfigError, match="DRIFTWOOD_SECRET_KEY_FILE"):
        loaded(monkeypatch, DRIFTWOOD_SECRET_KEY_FILE=str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"DATABASE_URL": URL},
            r"DRIFTWOOD_SECRET_KEY \(or DRIFTWOOD_SECRET_KEY_FILE\) is not set",
        ),
        ({"SECRET_KEY": GOOD_KEY}, "DRIFTWOOD_DATABASE_URL"),
        ({"SECRET_KEY": "changeme", "DATABASE_URL": URL}, "well-known placeholder"),
        ({"SECRET_KEY": "short-but-unusual", "DATABASE_URL": URL}, "shorter than 32"),
        (
            {"SECRET_KEY": GOOD_KEY, "DATABASE_URL": URL, "DATABASE_PASSWORD": "postgres"},
            "DRIFTWOOD_DATABASE_PASSWORD is a well-known placeholder",
        ),
        (
            {"SECRET_KEY": GOOD_KEY, "DATABASE_URL": "postgresql+psycopg://u:password@db/d"},
            "placeholder password",
        ),
    ],
)
def test_the_app_refuses_to_start_and_says_why(settings, message):
    with pytest.raises(config.ConfigError, match=message):
        create_app(settings)


def test_a_complete_configuration_starts(monkeypatch):
    monkeypatch.setenv("DRIFTWOOD_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("DRIFTWOOD_DATABASE_URL", URL)
    assert create_app().config["SESSION_COOKIE_HTTPONLY"] is True


def test_proxy_headers_are_trusted_only_when_configured(app):
    from tests.conftest import TEST_SETTINGS

    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with app.test_request_context("/", headers=headers):
        from flask import request

        assert request.remote_addr != "203.0.113.9"
        assert request.scheme == "http"
    proxied = create_app({**TEST_SETTINGS, "TRUSTED_PROXIES": 1})
    seen = {}

    @proxied.get("/whoami")
    def whoami():
        from flask import request

        seen.update(addr=request.remote_addr, scheme=request.scheme)
        return ""

    proxied.test_client().get("/whoami", headers=headers)
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}
