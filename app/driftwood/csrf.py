"""CSRF protection for every form: a per-session token that each POST must send back.

Forms carry `{{ csrf_token() }}` in a hidden `csrf_token` field; scripts send it in the
`X-CSRFToken` header. The API under /api/ is exempt: it authenticates with a token in the
Authorization header, which a foreign site cannot make a browser send.
"""

import hmac
import secrets

from flask import Flask, abort, request, session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
EXEMPT_PREFIX = "/api/"


def csrf_token() -> str:
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    token: str = session["csrf_token"]
    return token


def protect() -> None:
    if request.method in SAFE_METHODS or request.path.startswith(EXEMPT_PREFIX):
        return
    expected = session.get("csrf_token")
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRFToken", "")
    if not expected or not hmac.compare_digest(str(expected), sent):
        # 403, as for any request the server understood and will not carry out.
        abort(403, description="The form has expired or did not come from this site: reload it.")


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(protect)
