"""The native API's tags (`/api/tags/`), user profile and its own OpenAPI document."""

from datetime import datetime
from importlib import resources
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import Select, func, select
from werkzeug.exceptions import NotFound

from driftwood import tagging
from driftwood.api.common import DEFAULT_LIMIT, envelope, int_arg, token_api
from driftwood.api.schema import InvalidInput, iso
from driftwood.db import get_session
from driftwood.models import Bookmark, Tag, User, bookmark_tags

bp = token_api("api_tags")
document = Blueprint("api_document", __name__, url_prefix="/api")  # no token needed

MAX_TAG_LIMIT = 5000  # clients fetch every tag at once for autocompletion


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
    limit = int_arg("limit", DEFAULT_LIMIT, MAX_TAG_LIMIT) or DEFAULT_LIMIT
    offset = int_arg("offset", 0, 10**9)
    count = session.scalar(select(func.count()).where(Tag.user_id == g.user.id)) or 0
    rows = session.execute(
        _tags_statement(g.user).order_by(func.lower(Tag.name)).limit(limit).offset(offset)
    )
    return envelope(count, limit, offset, [_tag_json(tag, first) for tag, first in rows])


@bp.get("/tags/<id:tag_id>/")
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


@document.get("/openapi.yaml")
def openapi() -> Response:
    document = resources.files("driftwood").joinpath("openapi.yaml").read_text("utf-8")
    return Response(document, mimetype="application/yaml")
