"""Import and export pages: a bookmark file in (with a dry run first), HTML or JSON out.

Also the request body limits every route shares: MAX_CONTENT_LENGTH, raised to
MAX_IMPORT_BYTES for the import routes, and the 413 that names the limit.
"""

import json
from datetime import UTC, datetime
from typing import IO, Any

from flask import Blueprint, Request, Response, current_app, g, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from driftwood import library, netscape
from driftwood.auth import login_required
from driftwood.db import get_session
from driftwood.importer import import_bookmarks
from driftwood.models import Bookmark, User

bp = Blueprint("transfer", __name__)


def _user_bookmarks(session: Session, user: User) -> list[Bookmark]:
    return list(
        session.scalars(
            select(Bookmark)
            .where(library.owned_by(user))
            .order_by(Bookmark.created_at, Bookmark.id)
            .options(selectinload(Bookmark.tags))
        )
    )


def exported_items(session: Session, user: User) -> list[netscape.NetscapeBookmark]:
    """The user's bookmarks, oldest first, as the bookmark file holds them (whole seconds)."""
    return [
        netscape.NetscapeBookmark(
            url=b.url,
            title=b.title,
            description=b.description,
            notes=b.notes,
            tags=tuple(t.name for t in b.tags),
            added=b.created_at.replace(microsecond=0),
            modified=b.updated_at.replace(microsecond=0),
            visibility=b.visibility.value,
            unread=b.unread,
        )
        for b in _user_bookmarks(session, user)
    ]


def export_json(session: Session, user: User) -> dict[str, Any]:
    return {
        "version": 1,
        "exported_at": datetime.now(UTC).isoformat(),
        "bookmarks": [
            {
                "url": b.url,
                "title": b.title,
                "description": b.description,
                "notes": b.notes,
                "tags": [t.name for t in b.tags],
                "unread": b.unread,
                "visibility": b.visibility.value,
                "created_at": b.created_at.isoformat(),
                "updated_at": b.updated_at.isoformat(),
            }
            for b in _user_bookmarks(session, user)
        ],
    }


def _size(limit: int) -> str:
    """A size limit for people: "20 MiB", or bytes below one MiB."""
    return f"{limit / 2**20:.3g} MiB" if limit >= 2**20 else f"{limit} bytes"


def import_limit() -> str:
    return _size(int(current_app.config["MAX_IMPORT_BYTES"]))


class _BodyWithoutLength(LimitedStream):
    """A body sent without a Content-Length (chunked), read to at most `limit` bytes; one
    byte more is a 413. Werkzeug's own stream stops quietly at the limit, so the app read
    a truncated body: broken JSON (a 400) or a form missing its last fields."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit + 1, is_max=True)  # room for the byte that tells

    def readinto(self, buffer: bytearray) -> int | None:
        size = super().readinto(buffer)
        if self.is_exhausted:
            raise RequestEntityTooLarge()
        return size


class LimitedRequest(Request):
    """Flask's request, with a chunked body held to the limit as a measured one is."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        # Only when the server marks where the body ends (gunicorn does for chunked
        # bodies); without that mark, werkzeug reads no body at all.
        terminated = self.environ.get("wsgi.input_terminated")
        if self.content_length is None and limit is not None and terminated:
            return _BodyWithoutLength(self.environ["wsgi.input"], limit)
        return super().stream


def too_large_message() -> str:
    """Which limit the request broke: the import routes raise theirs to MAX_IMPORT_BYTES."""
    limit = int(request.max_content_length or 0)
    if limit == int(current_app.config["MAX_IMPORT_BYTES"]):
        setting = "the import limit of {} (DRIFTWOOD_MAX_IMPORT_BYTES)"
        return f"The file is larger than {setting.format(_size(limit))}."
    setting = "the limit of {} (DRIFTWOOD_MAX_CONTENT_LENGTH)"
    return f"The request is larger than {setting.format(_size(limit))}."


@bp.context_processor
def limit_for_templates() -> dict[str, str]:
    return {"import_limit": import_limit()}


@bp.url_value_preprocessor
def limit_upload_size(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # URL preprocessors run before every before_request hook, so the limit is in force
    # before the CSRF check reads the form: an oversized upload is refused unread (413).
    if endpoint == "transfer.index":
        request.max_content_length = current_app.config["MAX_IMPORT_BYTES"]


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    return render_template("transfer/import.html", error=too_large_message()), 413


@bp.app_errorhandler(RequestEntityTooLarge)
def request_too_large(_error: RequestEntityTooLarge) -> RequestEntityTooLarge:
    # Any other page: the standard error page, saying which limit and how to change it.
    return RequestEntityTooLarge(too_large_message())


@bp.route("/import", methods=("GET", "POST"))
@login_required
def index() -> str | tuple[str, int]:
    if request.method == "GET":
        return render_template("transfer/import.html")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("transfer/import.html", error="Choose a bookmark file."), 400
    parsed = netscape.parse(upload.read())
    dry_run = request.form.get("action") != "import"
    session = get_session()
    report = import_bookmarks(session, g.user, parsed, dry_run=dry_run)
    if not dry_run:
        session.commit()
    return render_template("transfer/import.html", report=report, encoding=parsed.encoding)


def _download(body: str, mimetype: str, extension: str) -> Response:
    name = f"driftwood-{g.user.username}-{datetime.now(UTC):%Y-%m-%d}.{extension}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/export.html")
@login_required
def export_html() -> Response:
    body = netscape.render(exported_items(get_session(), g.user))
    return _download(body, "text/html", "html")


@bp.get("/export.json")
@login_required
def export_json_file() -> Response:
    body = json.dumps(export_json(get_session(), g.user), ensure_ascii=False, indent=2)
    return _download(body, "application/json", "json")
