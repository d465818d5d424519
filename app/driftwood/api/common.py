"""What the native API's blueprints share: token authentication, JSON errors, and
linkding's paging (`limit`/`offset` in, `count`/`next`/`previous`/`results` out)."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from driftwood.api import tokens
from driftwood.api.schema import InvalidInput
from driftwood.db import get_session
from driftwood.transfer import too_large_message

DEFAULT_LIMIT = 100  # linkding's default page size


def token_from_header() -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() in ("token", "bearer") else ""


def authenticate() -> tuple[Response, int] | None:
    user = tokens.user_for_key(get_session(), token_from_header())
    if user is None:
        response = jsonify(detail="Invalid token.")
        response.headers["WWW-Authenticate"] = "Token"
        return response, 401
    g.user = user
    return None


def json_error(error: HTTPException) -> tuple[Response, int]:
    detail = too_large_message() if isinstance(error, RequestEntityTooLarge) else error.description
    response = jsonify(detail=detail)
    # The error's own headers (Allow on a 405) matter to clients; its HTML type does not.
    response.headers.extend(
        (name, value) for name, value in error.get_headers() if name.lower() != "content-type"
    )
    return response, error.code or 500


def errors_under_api(error: HTTPException) -> HTTPException | tuple[Response, int]:
    """An error no API blueprint answered (an unknown URL or method under /api/) is JSON
    too, so clients can read it; elsewhere it stays the standard error page."""
    return json_error(error) if request.path.startswith("/api/") else error


def invalid_input(error: InvalidInput) -> tuple[Response, int]:
    return jsonify(error.errors), 400


def token_api(name: str) -> Blueprint:
    """A blueprint under /api/ whose every route needs a token and answers in JSON."""
    bp = Blueprint(name, __name__, url_prefix="/api")
    bp.before_request(authenticate)
    bp.register_error_handler(HTTPException, json_error)
    # Also by its code: the app's own page for a 413 would otherwise win (Flask prefers an
    # app handler for the code over a blueprint handler for the class).
    bp.register_error_handler(RequestEntityTooLarge, json_error)
    bp.register_error_handler(InvalidInput, invalid_input)
    return bp


def int_arg(name: str, default: int, maximum: int) -> int:
    try:
        return max(0, min(int(request.args.get(name, default)), maximum))
    except ValueError:
        raise InvalidInput({name: ["A valid integer is required."]}) from None


def date_arg(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput({name: ["An ISO 8601 date and time is required."]}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page_links(count: int, limit: int, offset: int) -> tuple[str | None, str | None]:
    def link(at: int) -> str:
        args = {**request.args.to_dict(), "limit": limit, "offset": at}
        return f"{request.base_url}?{urlencode(args)}"

    following = link(offset + limit) if offset + limit < count else None
    previous = link(max(0, offset - limit)) if offset > 0 else None
    return following, previous


def envelope(count: int, limit: int, offset: int, results: list[Any]) -> Response:
    following, previous = _page_links(count, limit, offset)
    return jsonify(count=count, next=following, previous=previous, results=results)
