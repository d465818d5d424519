"""Driftwood, a self-hostable bookmark manager: the application factory."""

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from driftwood import config, db


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(config.DEFAULTS)
    if test_config is None:
        config.load_environment(app.config)
    else:
        app.config.from_mapping(test_config)
    config.validate(app.config)

    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        # Believe X-Forwarded-For/-Proto/-Host only from the proxies we run (nginx): a
        # client could otherwise claim any address or pretend the request came over HTTPS.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    db.init_app(app)
    return app
