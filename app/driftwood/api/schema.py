"""JSON in and out of the native API, in linkding's field names.

linkding has two visibility states (`shared` true or false); Driftwood has three. Reading,
`shared` is true for anything other users can see; writing, `shared: true` makes a
private bookmark shared with the instance (never silently public), and the optional
`visibility` field sets any of the three exactly.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftwood.models import Bookmark, Visibility

_TEXTS = ("url", "title", "description", "notes")
_FLAGS = ("unread", "shared", "is_archived")


class InvalidInput(ValueError):
    """A request body the API cannot use; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as linkding (Django REST framework) writes dates."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def bookmark_json(bookmark: Bookmark) -> dict[str, Any]:
    return {
        "id": bookmark.id,
        "url": bookmark.url,
        "title": bookmark.title,
        "description": bookmark.description,
        "notes": bookmark.notes,
        # linkding fills these from the page itself; Driftwood never fetches pages.
        "website_title": None,
        "website_description": None,
        "web_archive_snapshot_url": None,
        "favicon_url": None,
        "preview_image_url": None,
        "is_archived": False,
        "unread": bookmark.unread,
        "shared": bookmark.visibility is not Visibility.PRIVATE,
        "visibility": bookmark.visibility.value,
        "tag_names": [tag.name for tag in bookmark.tags],
        "date_added": iso(bookmark.created_at),
        "date_modified": iso(bookmark.updated_at),
    }


@dataclass(frozen=True)
class BookmarkInput:
    """The fields a client sent (absent fields are left as they are)."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any, *, require_url: bool) -> "BookmarkInput":
        if not isinstance(body, dict):
            raise InvalidInput({"non_field_errors": ["Send a JSON object."]})
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for name in _TEXTS:
            if body.get(name) is not None:
                if isinstance(body[name], str):
                    values[name] = body[name]
                else:
                    errors[name] = ["Not a valid string."]
        for name in _FLAGS:
            if name in body:
                if isinstance(body[name], bool):
                    values[name] = body[name]
                else:
                    errors[name] = ["Must be a valid boolean."]
        if "tag_names" in body:
            tags = body["tag_names"]
            if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
                values["tag_names"] = tags
            else:
                errors["tag_names"] = ["Expected a list of strings."]
        if "visibility" in body:
            try:
                values["visibility"] = Visibility(body["visibility"])
            except ValueError:
                errors["visibility"] = ["One of private, shared, public."]
        if require_url and not values.get("url"):
            errors["url"] = ["This field is required."]
        if errors:
            raise InvalidInput(errors)
        return cls(values)

    def _visibility(self, current: Visibility) -> Visibility | None:
        if "visibility" in self.values:
            chosen: Visibility = self.values["visibility"]
            return chosen
        if "shared" not in self.values:
            return None
        if not self.values["shared"]:
            return Visibility.PRIVATE
        return current if current is not Visibility.PRIVATE else Visibility.SHARED

    def create_arguments(self) -> dict[str, Any]:
        """Keyword arguments for `library.create_bookmark`."""
        arguments = {name: self.values[name] for name in _TEXTS if name in self.values}
        arguments["tags"] = self.values.get("tag_names", [])
        arguments["unread"] = self.values.get("unread", False)
        arguments["visibility"] = self._visibility(Visibility.PRIVATE) or Visibility.PRIVATE
        return arguments

    def update_arguments(self, bookmark: Bookmark) -> dict[str, Any]:
        """Keyword arguments for `library.update_bookmark` (only what was sent)."""
        arguments = {name: self.values[name] for name in _TEXTS if name in self.values}
        if "tag_names" in self.values:
            arguments["tags"] = self.values["tag_names"]
        if "unread" in self.values:
            arguments["unread"] = self.values["unread"]
        arguments["visibility"] = self._visibility(bookmark.visibility)
        return arguments
