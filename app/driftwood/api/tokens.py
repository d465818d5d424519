"""API tokens: created and revoked by their owner, shown once, stored only as a hash.

Clients send `Authorization: Token <key>` (linkding; `Bearer` works too) or, for Pinboard
tools, `?auth_token=username:<key>`. Only the SHA-256 of a key is stored, so a leaked
database holds no usable keys; a 160-bit random key needs no slow hash.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from driftwood.auth import login_required
from driftwood.db import get_session
from driftwood.models import ApiToken, User

bp = Blueprint("tokens", __name__)

MAX_NAME_LENGTH = 100
# Recording every use would turn each API read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token and its plain key, which is never stored and cannot be shown again."""
    key = secrets.token_hex(20)
    token = ApiToken(user_id=user.id, name=name.strip()[:MAX_NAME_LENGTH], key_hash=key_hash(key))
    session.add(token)
    session.flush()
    return token, key


def user_for_key(session: Session, key: str, username: str | None = None) -> User | None:
    """The owner of a key (and, for Pinboard's user:key form, only if the name matches)."""
    if not key:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.key_hash == key_hash(key)))
    if token is None:
        return None
    if username is not None and token.user.username.lower() != username.lower():
        return None
    now = datetime.now(UTC)
    # Committed here, before the view runs: nothing else is pending yet.
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.commit()
    return token.user


def user_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at)
        )
    )


@bp.route("/settings/api-tokens", methods=("GET", "POST"))
@login_required
def index() -> str:
    session = get_session()
    new_key = None
    if request.method == "POST":
        name = request.form.get("name", "").strip() or "API token"
        _, new_key = create_token(session, g.user, name)
        session.commit()
    return render_template("api/tokens.html", tokens=user_tokens(session, g.user), new_key=new_key)


@bp.post("/settings/api-tokens/<id:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Response:
    session = get_session()
    token = session.get(ApiToken, token_id)
    if token is not None and token.user_id == g.user.id:
        session.delete(token)
        session.commit()
        flash(f"Token “{token.name}” revoked: clients using it are locked out now.")
    return redirect(url_for("tokens.index"))
