"""Driftwood, a self-hostable bookmark manager: the application factory."""

from typing import Any

from flask import Flask, current_app
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from driftwood import auth, bookmarks, config, csrf, db, feeds, ops, tagging, tags, transfer
from driftwood.api import bookmarks as bookmark_api
from driftwood.api import common as api_common
from driftwood.api import pinboard, tokens
from driftwood.api import tags as tag_api
from driftwood.urls import is_safe_link

# The signed-in navigation, in order: (label, endpoint). Entries whose blueprint is not
# registered are left out.
NAV_LINKS = [
    ("Bookmarks", "bookmarks.index"),
    ("Add", "bookmarks.new"),
    ("Tags", "tags.index"),
    ("Shared", "bookmarks.shared"),
    ("Import/export", "transfer.index"),
    ("API tokens", "tokens.index"),
]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.request_class = transfer.LimitedRequest
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
    app.url_map.converters["tag"] = tagging.TagConverter  # before the routes that use it
    csrf.init_app(app)
    ops.init_app(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(bookmarks.bp)
    app.register_blueprint(tags.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(transfer.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(bookmark_api.bp)
    app.register_blueprint(tag_api.bp)
    app.register_blueprint(tag_api.document)
    app.register_blueprint(pinboard.bp)
    app.register_error_handler(HTTPException, api_common.errors_under_api)

    app.jinja_env.globals["nav_links"] = nav_links
    # Templates turn a URL into a link only through this test: never a javascript: href.
    app.jinja_env.tests["safe_link"] = is_safe_link
    return app


def nav_links() -> list[tuple[str, str]]:
    return [(label, e) for label, e in NAV_LINKS if e in current_app.view_functions]
