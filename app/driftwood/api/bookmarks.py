"""The bookmark routes of the native API, shaped after linkding's so its clients (browser
extension, linkding-cli, mobile apps) work unchanged: `/api/bookmarks/` with `q`, `limit`,
`offset`; `/api/bookmarks/<id>/`; `/api/bookmarks/check/?url=`. Field names follow linkding;
`visibility` adds Driftwood's third state next to linkding's `shared` flag. Every route
works on the token owner's bookmarks only. The document is `openapi.yaml`.
"""

from flask import Response, current_app, g, jsonify, request
from werkzeug.exceptions import NotFound

from driftwood import library, netscape
from driftwood.api.common import DEFAULT_LIMIT, date_arg, envelope, int_arg, token_api
from driftwood.api.schema import BookmarkInput, InvalidInput, bookmark_json
from driftwood.db import get_session
from driftwood.importer import import_bookmarks
from driftwood.models import Bookmark
from driftwood.query import parse_query
from driftwood.transfer import export_json, exported_items
from driftwood.urls import InvalidURL

bp = token_api("api_bookmarks")


def _own_bookmark(bookmark_id: int) -> Bookmark:
    bookmark = library.get_bookmark(get_session(), g.user, bookmark_id)
    if bookmark is None:  # someone else's bookmark is as absent as a deleted one
        raise NotFound("Not found.")
    return bookmark


# --- Bookmarks -------------------------------------------------------------------------


@bp.get("/bookmarks/")
def list_bookmarks() -> Response:
    session = get_session()
    limit = int_arg("limit", DEFAULT_LIMIT, library.MAX_PAGE_SIZE) or DEFAULT_LIMIT
    offset = int_arg("offset", 0, 10**9)
    query = parse_query(request.args.get("q", ""))
    scope = library.owned_by(g.user)
    for name, column in (
        ("added_since", Bookmark.created_at),
        ("modified_since", Bookmark.updated_at),
    ):
        if since := date_arg(name):
            scope = scope & (column > since)
    page = library.list_bookmarks(session, scope, query, limit=limit, offset=offset, own=True)
    count = library.count_bookmarks(session, scope, query, own=True)
    return envelope(count, limit, offset, [bookmark_json(b) for b in page.bookmarks])


@bp.get("/bookmarks/archived/")
def list_archived() -> Response:
    # Driftwood has no archive: linkding clients that ask get an empty list, not an error.
    return envelope(0, DEFAULT_LIMIT, 0, [])


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


@bp.get("/bookmarks/<id:bookmark_id>/")
def get_bookmark(bookmark_id: int) -> Response:
    return jsonify(bookmark_json(_own_bookmark(bookmark_id)))


@bp.route("/bookmarks/<id:bookmark_id>/", methods=("PUT", "PATCH"))
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


@bp.delete("/bookmarks/<id:bookmark_id>/")
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
    # A file part, the field as text (`curl -F "file=<bookmarks.html"`), or the whole body.
    data = upload.read() if upload is not None else request.form.get("file", "").encode()
    data = data or request.get_data()
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
