"""Public pages and feeds: everything here shows only bookmarks marked public.

Pages: /public (everyone's), /u/<username> (one user's). Feeds in Atom and RSS 2.0 for
each, and per tag (/feeds/tags/<tag>.atom); every page and feed also takes ?q=.
"""

from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import ColumnElement

from driftwood import library
from driftwood.accounts import get_user
from driftwood.bookmarks import render_page
from driftwood.db import get_session
from driftwood.models import User
from driftwood.query import SearchQuery, parse_query

bp = Blueprint("feeds", __name__)
FEED_SIZE = 50
FORMAT = "<any(atom, rss):fmt>"
MEDIA_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}


def _public_user(username: str) -> User:
    user = get_user(get_session(), username)
    if user is None:
        abort(404)
    return user


def _feed(
    fmt: str, scope: ColumnElement[bool], title: str, *, tag: str | None = None, **context: Any
) -> Response:
    query = parse_query(request.args.get("q", ""))
    if tag is not None:
        query = replace(query, tags=(*query.tags, tag.lower()))
    page = library.list_bookmarks(get_session(), scope, query, limit=FEED_SIZE)
    updated = max((b.updated_at for b in page.bookmarks), default=datetime.now(UTC))
    body = render_template(
        f"feeds/feed.{fmt}.xml",
        page=page,
        title=title,
        updated=updated,
        rfc822=format_datetime,
        **context,
    )
    return Response(body, mimetype=MEDIA_TYPES[fmt])


@bp.get("/public")
def public_page() -> str:
    # Narrowed to one tag and nothing else (a tag link's ?q=#tag): that tag has a feed.
    query = parse_query(request.args.get("q", ""))
    tag = query.tags[0] if len(query.tags) == 1 and query == SearchQuery(tags=query.tags) else None
    return render_page("feeds/public.html", library.public(), user=None, tag=tag)


@bp.get("/u/<username>")
def user_page(username: str) -> str:
    user = _public_user(username)
    return render_page("feeds/public.html", library.public_of(user), user=user)


@bp.get(f"/feeds/public.{FORMAT}")
def public_feed(fmt: str) -> Response:
    return _feed(fmt, library.public(), "Public bookmarks")


@bp.get(f"/u/<username>/feed.{FORMAT}")
def user_feed(username: str, fmt: str) -> Response:
    user = _public_user(username)
    return _feed(fmt, library.public_of(user), f"Bookmarks of {user.username}", user=user)


@bp.get(f"/feeds/tags/<tag:tag>.{FORMAT}", merge_slashes=False)
def tag_feed(tag: str, fmt: str) -> Response:
    return _feed(fmt, library.public(), f"Public bookmarks tagged #{tag}", tag=tag)
