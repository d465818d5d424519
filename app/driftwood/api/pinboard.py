"""A Pinboard v1-compatible subset, so Pinboard (and old Delicious) tools work too.

Tools authenticate with `?auth_token=username:key` (a Driftwood API token) and get XML,
or JSON with `format=json`, in Pinboard's shapes and result codes. Pinboard's names are
historical: a post's `description` is its title and `extended` its description.
`shared=yes` means public. Unlike Pinboard, a post added without `shared` is private.
"""

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from driftwood import library, search, tagging
from driftwood.api import tokens
from driftwood.api.common import token_from_header
from driftwood.api.schema import iso
from driftwood.db import get_session
from driftwood.models import Bookmark, Visibility
from driftwood.query import SearchQuery
from driftwood.urls import InvalidURL

bp = Blueprint("pinboard", __name__, url_prefix="/api/v1")

RECENT_DEFAULT, RECENT_MAX = 15, 100
MAX_FILTER_TAGS = 3  # Pinboard filters by up to three tags
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- Authentication and output ---------------------------------------------------------


@bp.before_request
def authenticate() -> Response | None:
    username, _, key = request.args.get("auth_token", "").rpartition(":")
    session = get_session()
    if key:
        user = tokens.user_for_key(session, key, username or None)
    else:
        user = tokens.user_for_key(session, token_from_header())
    if user is None:
        return Response("401 Forbidden", status=401, mimetype="text/plain")
    g.user = user
    return None


def _wants_json() -> bool:
    return request.args.get("format") == "json"


def _xml(element: ET.Element) -> Response:
    body = ET.tostring(element, encoding="unicode")
    return Response(f'<?xml version="1.0" encoding="UTF-8" ?>\n{body}', mimetype="text/xml")


def _element(tag: str, attributes: dict[str, str], text: str | None = None) -> ET.Element:
    element = ET.Element(tag, {k: _NOT_XML.sub("", v) for k, v in attributes.items()})
    element.text = text
    return element


def _result_code(code: str) -> Response:
    """The outcome of a change: `done` or a short reason, as Pinboard words them."""
    if _wants_json():
        return jsonify(result_code=code)
    return _xml(_element("result", {"code": code}))


def _result(value: str) -> Response:
    if _wants_json():
        return jsonify(result=value)
    return _xml(_element("result", {}, _NOT_XML.sub("", value)))


def _md5(text: str) -> str:
    # Pinboard's `hash` and `meta` are MD5 hex digests: identifiers, not security.
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _post(bookmark: Bookmark) -> dict[str, str]:
    return {
        "href": bookmark.url,
        "description": bookmark.title,
        "extended": bookmark.description,
        "meta": _md5(iso(bookmark.updated_at) or ""),  # changes whenever the post changes
        "hash": _md5(bookmark.url),
        "time": iso(bookmark.created_at) or "",
        "shared": _yes(bookmark.visibility is Visibility.PUBLIC),
        "toread": _yes(bookmark.unread),
        "tags": " ".join(tag.name for tag in bookmark.tags),
    }


def _json_posts(date: str, bookmarks: Sequence[Bookmark]) -> Response:
    return jsonify(date=date, user=g.user.username, posts=[_post(b) for b in bookmarks])


def _posts(bookmarks: Sequence[Bookmark], attributes: dict[str, str]) -> ET.Element:
    root = _element("posts", {**attributes, "user": g.user.username})
    for bookmark in bookmarks:
        post = _post(bookmark)
        post["tag"] = post.pop("tags")  # XML says `tag`, JSON says `tags`
        root.append(_element("post", post))
    return root


# --- Queries ---------------------------------------------------------------------------


def _filter_tags() -> tuple[str, ...]:
    names = tagging.parse_tags(request.args.get("tag", ""))[:MAX_FILTER_TAGS]
    return tuple(name.lower() for name in names)


def _when(name: str) -> datetime | None:
    value = request.args.get(name, "")
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC) if moment else None


def _bookmarks(*conditions: Any, limit: int | None = None, offset: int = 0) -> list[Bookmark]:
    statement = (
        select(Bookmark)
        .where(library.owned_by(g.user), *search.build(SearchQuery(tags=_filter_tags())).conditions)
        .where(*conditions)
        .order_by(Bookmark.created_at.desc(), Bookmark.id.desc())
        .options(selectinload(Bookmark.tags))
        .offset(offset)
        .limit(limit)
    )
    return list(get_session().scalars(statement))


def _own_url(url: str) -> Bookmark | None:
    return library.find_by_normalized_url(get_session(), g.user, url)


# --- posts/* ---------------------------------------------------------------------------


@bp.get("/posts/update")
def posts_update() -> Response:
    latest = get_session().scalar(
        select(func.max(Bookmark.updated_at)).where(library.owned_by(g.user))
    )
    when = iso(latest or g.user.created_at) or ""
    if _wants_json():
        return jsonify(update_time=when)
    return _xml(_element("update", {"time": when}))


@bp.get("/posts/add")
def posts_add() -> Response:
    args = request.args
    url = args.get("url", "").strip()
    if not url:
        return _result_code("missing url")
    session = get_session()
    existing = _own_url(url)
    if existing is not None and args.get("replace", "yes") == "no":
        return _result_code("item already exists")
    fields: dict[str, Any] = {
        "title": args.get("description", ""),
        "description": args.get("extended", ""),
        "tags": tagging.parse_tags(args.get("tags", "")),
    }
    if "toread" in args:
        fields["unread"] = args["toread"] == "yes"
    if "shared" in args:
        fields["visibility"] = Visibility.PUBLIC if args["shared"] == "yes" else Visibility.PRIVATE
    try:
        if existing is not None:  # replace=yes: the post becomes what was sent
            library.update_bookmark(session, existing, url=url, **fields)
        else:
            library.create_bookmark(session, g.user, url=url, created_at=_when("dt"), **fields)
    except InvalidURL as error:
        return _result_code(str(error))
    session.commit()
    return _result_code("done")


@bp.get("/posts/delete")
def posts_delete() -> Response:
    bookmark = _own_url(request.args.get("url", ""))
    if bookmark is None:
        return _result_code("item not found")
    session = get_session()
    library.delete_bookmark(session, bookmark)
    session.commit()
    return _result_code("done")


@bp.get("/posts/get")
def posts_get() -> Response:
    url = request.args.get("url", "")
    if url:
        bookmark = _own_url(url)
        found = [bookmark] if bookmark is not None else []
        day = found[0].created_at.date() if found else datetime.now(UTC).date()
    else:
        day_start = _when("dt")
        if day_start is None:  # no date: the most recent day with posts
            latest = _bookmarks(limit=1)
            day_start = latest[0].created_at if latest else datetime.now(UTC)
        day = day_start.astimezone(UTC).date()
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        found = _bookmarks(Bookmark.created_at >= start, Bookmark.created_at < start + timedelta(1))
    if _wants_json():
        return _json_posts(f"{day.isoformat()}T00:00:00Z", found)
    return _xml(_posts(found, {"dt": day.isoformat(), "tag": " ".join(_filter_tags())}))


@bp.get("/posts/recent")
def posts_recent() -> Response:
    try:
        count = max(1, min(int(request.args.get("count", RECENT_DEFAULT)), RECENT_MAX))
    except ValueError:
        count = RECENT_DEFAULT
    found = _bookmarks(limit=count)
    if _wants_json():
        return _json_posts(iso(datetime.now(UTC)) or "", found)
    return _xml(_posts(found, {"tag": " ".join(_filter_tags())}))


@bp.get("/posts/all")
def posts_all() -> Response:
    conditions = []
    if (since := _when("fromdt")) is not None:
        conditions.append(Bookmark.created_at >= since)
    if (until := _when("todt")) is not None:
        conditions.append(Bookmark.created_at <= until)
    try:
        start = max(0, int(request.args.get("start", 0)))
        results = int(request.args["results"]) if "results" in request.args else None
    except ValueError:
        start, results = 0, None
    found = _bookmarks(*conditions, limit=results, offset=start)
    if _wants_json():
        return jsonify([_post(b) for b in found])
    return _xml(_posts(found, {"tag": " ".join(_filter_tags())}))


# --- tags/* and user/* -----------------------------------------------------------------


@bp.get("/tags/get")
def tags_get() -> Response:
    counts = [(c.tag.name, c.count) for c in tagging.tag_counts(get_session(), g.user)]
    if _wants_json():
        return jsonify(dict(counts))
    root = _element("tags", {})
    for name, count in counts:
        root.append(_element("tag", {"count": str(count), "tag": name}))
    return _xml(root)


@bp.get("/tags/rename")
def tags_rename() -> Response:
    session = get_session()
    tag = tagging.get_tag(session, g.user, request.args.get("old", ""))
    if tag is None:
        return _result("tag not found")
    try:
        tagging.rename_tag(session, g.user, tag, request.args.get("new", ""))
    except ValueError:
        return _result("missing new")
    session.commit()
    return _result("done")


@bp.get("/tags/delete")
def tags_delete() -> Response:
    session = get_session()
    tag = tagging.get_tag(session, g.user, request.args.get("tag", ""))
    if tag is not None:
        tagging.delete_tag(session, g.user, tag)
        session.commit()
    return _result("done")


@bp.get("/user/api_token")
def user_api_token() -> Response:
    # Only a hash of each key is stored: the token that is known is the one just used.
    key = request.args.get("auth_token", "").rpartition(":")[2] or token_from_header()
    return _result(key)
