"""The native REST API, shaped after linkding's so its clients work unchanged.

linkding's browser extension, linkding-cli and the mobile apps talk to `/api/bookmarks/`,
`/api/bookmarks/check/`, `/api/tags/` and `/api/user/profile/` with `Authorization: Token
<key>`. Field names and list envelopes (`count`, `next`, `previous`, `results`) match
linkding's; `visibility` adds Driftwood's third state next to linkding's `shared` flag.
Every route works on the token owner's bookmarks only. The document is `openapi.yaml`.
"""

from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import Select, func, select
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from driftwood import library, netscape, tagging
from driftwood.api import tokens
from driftwood.api.schema import BookmarkInput, InvalidInput, bookmark_json, iso
from driftwood.db import get_session
from driftwood.importer import import_bookmarks
from driftwood.models import Bookmark, Tag, User, bookmark_tags
from driftwood.query import parse_query
from driftwood.transfer import export_json, exported_items, too_large_message
from driftwood.urls import InvalidURL

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_LIMIT = 100  # linkding's default page size
MAX_TAG_LIMIT = 5000  # clients fetch every tag at once for autocompletion
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})


def token_from_header() -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() in ("token", "bearer") else ""


@bp.before_request
def authenticate() -> tuple[Response, int] | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = tokens.user_for_key(get_session(), token_from_header())
    if user is None:
        response = jsonify(detail="Invalid token.")
        response.headers["WWW-Authenticate"] = "Token"
        return response, 401
    g.user = user
    return None


@bp.errorhandler(HTTPException)
def json_error(error: HTTPException) -> tuple[Response, int]:
    detail = too_large_message() if isinstance(error, RequestEntityTooLarge) else error.description
    return jsonify(detail=detail), error.code or 500


@bp.errorhandler(InvalidInput)
def invalid_input(error: InvalidInput) -> tuple[Response, int]:
    return jsonify(error.errors), 400


def _int_arg(name: str, default: int, maximum: int) -> int:
    try:
        return max(0, min(int(request.args.get(name, default)), maximum))
    except ValueError:
        raise InvalidInput({name: ["A valid integer is required."]}) from None


def _date_arg(name: str) -> datetime | None:
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


def _envelope(count: int, limit: int, offset: int, results: list[Any]) -> Response:
    following, previous = _page_links(count, limit, offset)
    return jsonify(count=count, next=following, previous=previous, results=results)


def _own_bookmark(bookmark_id: int) -> Bookmark:
    bookmark = library.get_bookmark(get_session(), g.user, bookmark_id)
    if bookmark is None:  # someone else's bookmark is as absent as a deleted one
        raise NotFound("Not found.")
    return bookmark


# --- Bookmarks -------------------------------------------------------------------------


@bp.get("/bookmarks/")
def list_bookmarks() -> Response:
    session = get_session()
    limit = _int_arg("limit", DEFAULT_LIMIT, library.MAX_PAGE_SIZE) or DEFAULT_LIMIT
    offset = _int_arg("offset", 0, 10**9)
    query = parse_query(request.args.get("q", ""))
    scope = library.owned_by(g.user)
    for name, column in (
        ("added_since", Bookmark.created_at),
        ("modified_since", Bookmark.updated_at),
    ):
        if since := _date_arg(name):
            scope = scope & (column > since)
    page = library.list_bookmarks(session, scope, query, limit=limit, offset=offset)
    count = library.count_bookmarks(session, scope, query)
    return _envelope(count, limit, offset, [bookmark_json(b) for b in page.bookmarks])


@bp.get("/bookmarks/archived/")
def list_archived() -> Response:
    # Driftwood has no archive: linkding clients that ask get an empty list, not an error.
    return _envelope(0, DEFAULT_LIMIT, 0, [])


@bp.post("/bookmarks/")
def create_bookmark() -> tuple[Response, int]:
    session = get_session()
    fields = BookmarkInput.parse(request.get_json(silent=True), require_url=True)
    try:
        bookmark = library.create_bookmark(session, g.user, **fields.create_arguments())
    except library.DuplicateBookmark as duplicate:
        # As in linkding: posting a saved URL again updates that bookmark.
        bookmark = duplicate.existing
        library.update_bookmark(session, bookmark, **fields.update_arguments(bookmark))
    except InvalidURL as error:
        raise InvalidInput({"url": [str(error)]}) from None
    session.commit()
    return jsonify(bookmark_json(bookmark)), 201


@bp.get("/bookmarks/<int:bookmark_id>/")
def get_bookmark(bookmark_id: int) -> Response:
    return jsonify(bookmark_json(_own_bookmark(bookmark_id)))


@bp.route("/bookmarks/<int:bookmark_id>/", methods=("PUT", "PATCH"))
def update_bookmark(bookmark_id: int) -> Response:
    session = get_session()
    bookmark = _own_bookmark(bookmark_id)
    fields = BookmarkInput.parse(request.get_json(silent=True), require_url=request.method == "PUT")
    try:
        library.update_bookmark(session, bookmark, **fields.update_arguments(bookmark))
    except library.DuplicateBookmark:
        raise InvalidInput({"url": ["This URL is already bookmarked."]}) from None
    except InvalidURL as error:
        raise InvalidInput({"url": [str(error)]}) from None
    session.commit()
    return jsonify(bookmark_json(bookmark))


@bp.delete("/bookmarks/<int:bookmark_id>/")
def delete_bookmark(bookmark_id: int) -> tuple[str, int]:
    session = get_session()
    library.delete_bookmark(session, _own_bookmark(bookmark_id))
    session.commit()
    return "", 204


@bp.get("/bookmarks/check/")
def check() -> Response:
    url = request.args.get("url", "")
    bookmark = library.find_by_normalized_url(get_session(), g.user, url)
    # Driftwood never fetches pages on a client's behalf (no server-side requests to
    # arbitrary URLs), so metadata holds only what is already stored.
    metadata = {
        "url": url,
        "title": bookmark.title if bookmark else None,
        "description": bookmark.description if bookmark else None,
        "preview_image": None,
    }
    return jsonify(
        bookmark=bookmark_json(bookmark) if bookmark else None, metadata=metadata, auto_tags=[]
    )


# --- Import and export -----------------------------------------------------------------


@bp.post("/bookmarks/import/")
def import_file() -> Response:
    request.max_content_length = current_app.config["MAX_IMPORT_BYTES"]
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data()
    if not data:
        raise InvalidInput({"file": ["Send a bookmark file (multipart field `file`)."]})
    dry_run = request.args.get("dry_run", "").lower() in ("1", "true", "yes")
    parsed = netscape.parse(data)
    session = get_session()
    report = import_bookmarks(session, g.user, parsed, dry_run=dry_run)
    if not dry_run:
        session.commit()
    return jsonify(summary=report.summary(), encoding=parsed.encoding, **report.as_dict())


@bp.get("/bookmarks/export/")
def export() -> Response:
    session = get_session()
    if request.args.get("format", "json") == "html":
        return Response(netscape.render(exported_items(session, g.user)), mimetype="text/html")
    return jsonify(export_json(session, g.user))


# --- Tags and profile ------------------------------------------------------------------


def _tag_json(tag: Tag, first_used: datetime | None) -> dict[str, Any]:
    # Tags carry no date of their own: date_added is when the tag was first used.
    return {"id": tag.id, "name": tag.name, "date_added": iso(first_used)}


def _tags_statement(user: User) -> Select[tuple[Tag, datetime | None]]:
    first_used = func.min(Bookmark.created_at)
    return (
        select(Tag, first_used)
        .outerjoin(bookmark_tags, bookmark_tags.c.tag_id == Tag.id)
        .outerjoin(Bookmark, Bookmark.id == bookmark_tags.c.bookmark_id)
        .where(Tag.user_id == user.id)
        .group_by(Tag.id)
    )


@bp.get("/tags/")
def list_tags() -> Response:
    session = get_session()
    limit = _int_arg("limit", DEFAULT_LIMIT, MAX_TAG_LIMIT) or DEFAULT_LIMIT
    offset = _int_arg("offset", 0, 10**9)
    count = session.scalar(select(func.count()).where(Tag.user_id == g.user.id)) or 0
    rows = session.execute(
        _tags_statement(g.user).order_by(func.lower(Tag.name)).limit(limit).offset(offset)
    )
    return _envelope(count, limit, offset, [_tag_json(tag, first) for tag, first in rows])


@bp.get("/tags/<int:tag_id>/")
def get_tag(tag_id: int) -> Response:
    row = get_session().execute(_tags_statement(g.user).where(Tag.id == tag_id)).first()
    if row is None:
        raise NotFound("Not found.")
    return jsonify(_tag_json(*row))


@bp.post("/tags/")
def create_tag() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not tagging.clean_tag_names([name]):
        raise InvalidInput({"name": ["A tag name with at least one letter is required."]})
    session = get_session()
    (tag,) = tagging.tags_named(session, g.user, [name])
    session.commit()
    return get_tag(tag.id), 201


@bp.get("/user/profile/")
def profile() -> Response:
    # linkding's preferences, with the values that describe how Driftwood behaves.
    return jsonify(
        username=g.user.username,
        theme="auto",
        bookmark_date_display="relative",
        bookmark_link_target="_blank",
        web_archive_integration="disabled",
        tag_search="lax",
        enable_sharing=True,
        enable_public_sharing=True,
        enable_favicons=False,
        display_url=False,
        permanent_notes=False,
        search_preferences={"sort": "added_desc", "shared": "off", "unread": "off"},
    )


@bp.get("/openapi.yaml")
def openapi() -> Response:
    document = resources.files("driftwood").joinpath("openapi.yaml").read_text("utf-8")
    return Response(document, mimetype="application/yaml")
