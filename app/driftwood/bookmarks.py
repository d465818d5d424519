"""The bookmark pages: the list with search and bulk actions, add, edit, delete, shared."""

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from driftwood import library
from driftwood.auth import login_required, safe_target
from driftwood.db import get_session, parse_ids
from driftwood.messages import flash_error
from driftwood.models import Bookmark, Visibility
from driftwood.query import parse_query
from driftwood.tagging import parse_tags
from driftwood.urls import InvalidURL

bp = Blueprint("bookmarks", __name__)


def render_page(template: str, scope: Any, *, own: bool = False, **context: Any) -> str:
    """A list page: the search box's query, one keyset page, and the link to the next.
    `own=True` (the viewer's own bookmarks only) lets the search use notes and unread."""
    text = request.args.get("q", "")
    page = library.list_bookmarks(
        get_session(),
        scope,
        parse_query(text),
        limit=current_app.config["PAGE_SIZE"],
        cursor=request.args.get("cursor"),
        own=own,
    )
    return render_template(template, page=page, q=text, **context)


@bp.get("/")
@login_required
def index() -> str:
    return render_page("bookmarks/list.html", library.owned_by(g.user), own=True)


@bp.get("/shared")
@login_required
def shared() -> str:
    return render_page("bookmarks/shared.html", library.shared_with_users())


def _fields() -> dict[str, Any]:
    form = request.form
    try:
        visibility = Visibility(form.get("visibility", "private"))
    except ValueError:
        abort(400, description="Unknown visibility.")
    return {
        "url": form.get("url", ""),
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "notes": form.get("notes", ""),
        "tags": parse_tags(form.get("tags", "")),
        "unread": form.get("unread") == "on",
        "visibility": visibility,
    }


@bp.route("/bookmarks/new", methods=("GET", "POST"))
@login_required
def new() -> str | Response | tuple[str, int]:
    db = get_session()
    if request.method == "GET":
        # Prefilled by the bookmarklet (?url=...&title=...); say at once if it is saved already.
        url = request.args.get("url", "")
        existing = library.find_by_normalized_url(db, g.user, url) if url else None
        return render_template(
            "bookmarks/form.html", bookmark=None, values=request.args, duplicate=existing
        )
    try:
        bookmark = library.create_bookmark(db, g.user, **_fields())
    except library.DuplicateBookmark as error:
        return render_template(
            "bookmarks/form.html", bookmark=None, values=request.form, duplicate=error.existing
        ), 409
    except InvalidURL as error:
        flash_error(error)
        return render_template("bookmarks/form.html", bookmark=None, values=request.form), 422
    db.commit()
    flash(f"Saved {bookmark.title or bookmark.url}.", "success")
    return redirect(url_for("bookmarks.index"))


def _own_bookmark(bookmark_id: int) -> Bookmark:
    bookmark = library.get_bookmark(get_session(), g.user, bookmark_id)
    if bookmark is None:
        abort(404)  # someone else's bookmark is indistinguishable from a missing one
    return bookmark


@bp.route("/bookmarks/<id:bookmark_id>/edit", methods=("GET", "POST"))
@login_required
def edit(bookmark_id: int) -> str | Response | tuple[str, int]:
    bookmark = _own_bookmark(bookmark_id)
    if request.method == "GET":
        values = {
            "url": bookmark.url,
            "title": bookmark.title,
            "description": bookmark.description,
            "notes": bookmark.notes,
            "tags": " ".join(t.name for t in bookmark.tags),
            "unread": "on" if bookmark.unread else "",
            "visibility": bookmark.visibility.value,
        }
        return render_template("bookmarks/form.html", bookmark=bookmark, values=values)
    db = get_session()
    try:
        library.update_bookmark(db, bookmark, **_fields())
    except library.DuplicateBookmark as error:
        db.rollback()
        return render_template(
            "bookmarks/form.html",
            bookmark=bookmark,
            values=request.form,
            duplicate=error.existing,
        ), 409
    except InvalidURL as error:
        db.rollback()
        flash_error(error)
        return render_template("bookmarks/form.html", bookmark=bookmark, values=request.form), 422
    db.commit()
    flash("Bookmark updated.", "success")
    return redirect(url_for("bookmarks.index"))


@bp.post("/bookmarks/<id:bookmark_id>/delete")
@login_required
def delete(bookmark_id: int) -> Response:
    db = get_session()
    library.delete_bookmark(db, _own_bookmark(bookmark_id))
    db.commit()
    flash("Bookmark deleted.", "success")
    return redirect(url_for("bookmarks.index"))


@bp.post("/bookmarks/bulk")
@login_required
def bulk() -> Response:
    db = get_session()
    ids = parse_ids(request.form.getlist("ids"))
    tags = parse_tags(request.form.get("tags", ""))
    action = request.form.get("action")
    if not ids:
        flash("Select some bookmarks first.", "error")
    elif action == "delete":
        flash(f"Deleted {library.bulk_delete(db, g.user, ids)} bookmarks.", "success")
    elif action in ("read", "unread"):
        count = library.bulk_mark_unread(db, g.user, ids, unread=action == "unread")
        flash(f"Marked {count} bookmarks as {action}.", "success")
    elif action in ("tag", "untag") and tags:
        change = {"add": tags} if action == "tag" else {"remove": tags}
        count = library.bulk_tag(db, g.user, ids, **change)
        flash(f"Changed the tags of {count} bookmarks.", "success")
    else:
        flash("Choose an action, and tags to add or remove.", "error")
    db.commit()
    return redirect(safe_target(request.form.get("back")))
