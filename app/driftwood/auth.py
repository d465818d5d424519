"""Sign up, log in, log out and change password; `login_required` for the other views.

The signed session cookie holds the user id and a fingerprint of the password hash, so
changing the password signs out every other browser that was logged in.
"""

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from driftwood import accounts
from driftwood.db import get_session
from driftwood.messages import flash_error
from driftwood.models import User

bp = Blueprint("auth", __name__)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _log_in(user: User) -> None:
    session.clear()  # a new session on login: no fixation of a pre-login session
    session["user_id"] = user.id
    session["auth"] = _fingerprint(user)
    session.permanent = True


@bp.before_app_request
def load_user() -> None:
    g.user = None
    user_id = session.get("user_id")
    if user_id is not None:
        user = get_session().get(User, user_id)
        if user is not None and session.get("auth") == _fingerprint(user):
            g.user = user


P = ParamSpec("P")


def login_required(view: Callable[P, Any]) -> Callable[P, Any]:
    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def safe_target(target: str | None) -> str:
    """Only same-site paths: `next=https://evil.example` must not become an open redirect."""
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/"):
        return target if not target.startswith("//") else url_for("bookmarks.index")
    return url_for("bookmarks.index")


@bp.route("/signup", methods=("GET", "POST"))
def signup() -> str | Response:
    if not current_app.config["SIGNUP_ENABLED"]:
        abort(404)
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_confirm", ""):
            flash("The two passwords differ.", "error")
        else:
            db = get_session()
            try:
                user = accounts.create_user(db, request.form.get("username", ""), password)
            except accounts.AccountError as error:
                flash_error(error)
            else:
                db.commit()
                _log_in(user)
                return redirect(url_for("bookmarks.index"))
    return render_template("auth/signup.html")


@bp.route("/login", methods=("GET", "POST"))
def login() -> str | Response | tuple[str, int]:
    if request.method == "POST":
        db = get_session()
        config = current_app.config
        try:
            user = accounts.authenticate(
                db,
                request.form.get("username", ""),
                request.form.get("password", ""),
                max_failures=config["LOGIN_MAX_FAILURES"],
                lockout=timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"]),
            )
        except accounts.AccountLocked as error:
            flash_error(error)
            return render_template("auth/login.html"), 429
        db.commit()  # the failure counter, or its reset
        if user is not None:
            _log_in(user)
            return redirect(safe_target(request.args.get("next")))
        flash("Wrong username or password.", "error")
    return render_template("auth/login.html")


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=("GET", "POST"))
@login_required
def change_password() -> str | Response:
    if request.method == "POST":
        db = get_session()
        user: User = g.user
        new = request.form.get("new_password", "")
        if not accounts.check_password(user, request.form.get("current_password", "")):
            flash("The current password is wrong.", "error")
        elif new != request.form.get("new_password_confirm", ""):
            flash("The two new passwords differ.", "error")
        else:
            try:
                accounts.set_password(user, new)
            except accounts.AccountError as error:
                flash_error(error)
            else:
                db.commit()
                _log_in(user)  # keep this browser signed in; the others are signed out
                flash("Password changed.", "success")
                return redirect(url_for("bookmarks.index"))
    return render_template("auth/password.html")
