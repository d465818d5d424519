"""The tag page: every tag with its count, rename (onto an existing name merges), merge
several into one, delete."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from driftwood import tagging
from driftwood.auth import login_required
from driftwood.db import get_session, parse_ids
from driftwood.messages import flash_error
from driftwood.models import Tag

bp = Blueprint("tags", __name__, url_prefix="/tags")


def _own_tag(tag_id: int) -> Tag:
    tag = get_session().get(Tag, tag_id)
    if tag is None or tag.user_id != g.user.id:
        abort(404)
    return tag


@bp.get("/")
@login_required
def index() -> str:
    return render_template("tags/list.html", counts=tagging.tag_counts(get_session(), g.user))


@bp.post("/<id:tag_id>/rename")
@login_required
def rename(tag_id: int) -> Response:
    db = get_session()
    try:
        tag = tagging.rename_tag(db, g.user, _own_tag(tag_id), request.form.get("name", ""))
    except ValueError as error:
        flash_error(error)
    else:
        db.commit()
        flash(f"Renamed to #{tag.name}.", "success")
    return redirect(url_for("tags.index"))


@bp.post("/merge")
@login_required
def merge() -> Response:
    db = get_session()
    sources = [_own_tag(i) for i in parse_ids(request.form.getlist("ids"))]
    names = tagging.parse_tags(request.form.get("target", ""))
    if not sources or len(names) != 1:
        flash("Select the tags to merge and type the one tag to merge them into.", "error")
        return redirect(url_for("tags.index"))
    target = tagging.tags_named(db, g.user, names)[0]
    tagging.merge_tags(db, g.user, sources, target)
    db.commit()
    flash(f"Merged {len(sources)} tags into #{target.name}.", "success")
    return redirect(url_for("tags.index"))


@bp.post("/<id:tag_id>/delete")
@login_required
def delete(tag_id: int) -> Response:
    db = get_session()
    tag = _own_tag(tag_id)
    name = tag.name
    tagging.delete_tag(db, g.user, tag)
    db.commit()
    flash(f"Deleted #{name}; its bookmarks stay.", "success")
    return redirect(url_for("tags.index"))
