"""Read and write the Netscape bookmark file, the format every browser imports and exports.

The format is loose HTML from the 1990s: `<DT><A HREF=... ADD_DATE=...>title</A>` entries,
an optional `<DD>` description after each, and `<DT><H3>folder</H3><DL>...</DL>` nesting.
Pinboard and linkding add the informal TAGS, PRIVATE and TOREAD attributes, and linkding
appends notes to the description between [linkding-notes] markers; both are kept.

The reader is built on the standard library's `html.parser`: it never expands entities
declared in a DTD (a "billion laughs" file stays inert), keeps folder nesting on a list
rather than the call stack (deeply nested files cannot overflow it), and records every entry
it cannot use with its line number and the reason instead of failing the whole file.
"""

import codecs
import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser

from driftwood.tagging import clean_tag_names
from driftwood.urls import InvalidURL, clean_url

# Unfinished constructs read past before giving up on the rest of a file: each costs one
# scan of the rest, so this bounds the work a hostile file can cause.
MAX_RECOVERIES = 3
MAX_SNIPPET = 2000
MAX_TAGS = 100  # per bookmark, folders included: a 10,000-deep folder chain stays cheap
NOTES_START, NOTES_END = "[linkding-notes]", "[/linkding-notes]"
VISIBILITIES = frozenset({"private", "shared", "public"})

# Browser containers are places, not topics: they do not become tags (their subfolders do).
_CONTAINER_ATTRIBUTES = ("personal_toolbar_folder", "unfiled_bookmarks_folder")
_CONTAINER_NAMES = frozenset(
    {"bookmarks bar", "bookmarks toolbar", "bookmarks menu", "other bookmarks"}
    | {"mobile bookmarks", "favorites bar", "favourites bar", "other favorites"}
    | {"favorites", "favourites", "bookmarksbar", "bookmarksmenu"}
)
_READING_LIST_ID = "com.apple.readinglist"  # Safari's Reading List: its entries are unread
_META_CHARSET = re.compile(rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([a-z0-9_.:-]{1,40})", re.I)
_HREF = re.compile(r"href\s*=\s*[\"']?([^\"'\s>]+)", re.I)
_BLOCKS = frozenset({"a", "h3", "dt", "dd", "dl", "hr"})
# PRIVATE="0" is Pinboard's and linkding's "shared with the world".
_PRIVATE_VALUES = {"1": "private", "true": "private", "0": "public", "false": "public"}


@dataclass(frozen=True)
class NetscapeBookmark:
    url: str
    title: str = ""
    description: str = ""
    notes: str = ""
    tags: tuple[str, ...] = ()
    added: datetime | None = None
    modified: datetime | None = None
    visibility: str | None = None  # None: the file does not say (browser exports)
    unread: bool = False
    line: int = field(default=0, compare=False)  # where it starts in the file, for reports


@dataclass(frozen=True)
class Rejected:
    line: int
    url: str
    title: str
    reason: str


@dataclass(frozen=True)
class ParseResult:
    bookmarks: tuple[NetscapeBookmark, ...]
    rejected: tuple[Rejected, ...]
    encoding: str


def decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding: BOM first, then the META charset, then UTF-8, then cp1252.

    Undecodable bytes become U+FFFD rather than an error: one bad byte must not lose a file.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace"), encoding
    if match := _META_CHARSET.search(data[:4096]):
        declared = match.group(1).decode("ascii").lower()
        # A file readable as ASCII cannot be UTF-16, whatever it says (as browsers decide).
        if not declared.startswith(("utf-16", "utf-32")):
            try:
                return data.decode(declared, "replace"), codecs.lookup(declared).name
            except (LookupError, ValueError):
                pass  # an unknown or non-text codec name: guess below
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Old Windows exports without a declaration; cp1252 decodes (nearly) every byte.
        return data.decode("cp1252", "replace"), "cp1252"


def _clean(text: str) -> str:
    """Drop NUL, which PostgreSQL text cannot hold."""
    return text.replace("\x00", "")


def _add_tags(tags: tuple[str, ...], names: Iterable[str]) -> tuple[str, ...]:
    """`tags` (clean and unique already: a folder's) followed by the cleaned `names` they
    lack, at most MAX_TAGS. Never cleaning a folder's tags again keeps every level of a
    100,000-deep chain of differently named folders, and every bookmark in it, cheap."""
    if len(tags) >= MAX_TAGS:
        return tags
    new = clean_tag_names(names)
    if not new:
        return tags
    have = {tag.lower() for tag in tags}
    return (*tags, *(name for name in new if name.lower() not in have))[:MAX_TAGS]


def _timestamp(value: str | None) -> datetime | None:
    """Seconds since the epoch; some tools write milli- or microseconds, so scale those."""
    try:
        number = float(value or "")
        if not math.isfinite(number):
            return None
        while number > 1e11:  # beyond the year 5138 in seconds: a finer unit
            number /= 1000
        return datetime.fromtimestamp(int(number), UTC) if number > 0 else None
    except (ValueError, OverflowError, OSError):
        return None


@dataclass(frozen=True)
class _Folder:
    tags: tuple[str, ...] = ()  # the folder path as tags, outermost first
    unread: bool = False


def _split_notes(text: str) -> tuple[str, str]:
    start = text.find(NOTES_START)
    if start == -1:
        return text.strip(), ""
    end = text.find(NOTES_END, start)
    end = len(text) if end == -1 else end
    notes = text[start + len(NOTES_START) : end]
    return (text[:start] + text[end + len(NOTES_END) :]).strip(), notes.strip()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.folders: list[_Folder] = [_Folder()]  # one per open <DL>, outermost first
        self.pending: _Folder | None = None  # a folder heading waiting for its <DL>
        self.mode: str | None = None  # collecting the text of "a", "h3", "dd" or nothing
        self.text: list[str] = []
        self.attrs: dict[str, str | None] = {}
        self.line = 0
        self.describable = False  # whether a <DD> now describes the last bookmark
        self.bookmarks: list[NetscapeBookmark] = []
        self.rejected: list[Rejected] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self.mode == "dd":
            self.text.append("\n")
            return
        if tag not in _BLOCKS:
            return
        self.finish()  # a new entry ends the previous one, even if its end tag is missing
        if tag == "dl":
            self.folders.append(self.pending or self.folders[-1])
            self.pending = None
        elif tag in ("a", "h3") or (tag == "dd" and self.describable):
            self.mode, self.text, self.attrs, self.line = tag, [], dict(attrs), self.getpos()[0]
            if tag == "a":
                self.pending = None  # the folder before it was empty and had no <DL>
        if tag != "dd":
            self.describable = False

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "h3", "dd") and self.mode == tag:
            self.finish()
        elif tag == "dl":
            self.finish()
            if len(self.folders) > 1:
                self.folders.pop()

    def handle_data(self, data: str) -> None:
        if self.mode:
            self.text.append(data)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """`<![` without a name after it (`<![!`): Python before 3.13 raises AssertionError
        there, newer ones read it as a bogus comment. Read it as one everywhere."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i)

    def read(self, text: str) -> None:
        """Feed the whole text, then get past constructs that never end.

        html.parser keeps an unfinished construct (a quote or comment never closed) as
        pending text. Its own end-of-file recovery rescans the rest of the file for every
        `<` that follows, which takes minutes on a hostile file: instead, the pending
        construct is reported and its `<` read as text, a few times, and then the rest of
        the file is given up with a rejection that says so.
        """
        self.feed(text)
        for attempt in range(MAX_RECOVERIES + 1):
            pending, self.rawdata = self.rawdata, ""
            if not pending:
                break
            line = self.getpos()[0]
            head = _clean(pending[:MAX_SNIPPET])
            first_line = " ".join(head.split("\n", 1)[0].split())[:200]
            href = _HREF.search(head)
            url = href.group(1)[:200] if href else ""
            if attempt == MAX_RECOVERIES:
                reason = f"unreadable markup; the rest of the file from line {line} was skipped"
                self.rejected.append(Rejected(line, url, first_line, reason))
                break
            self.rejected.append(
                Rejected(line, url, first_line, "unreadable markup (unclosed tag or quote)")
            )
            self.clear_cdata_mode()
            self.feed("&lt;" + pending[1:] if pending.startswith("<") else pending)
        super().close()
        self.finish()

    def finish(self) -> None:
        mode, self.mode = self.mode, None
        text = _clean("".join(self.text))
        if mode == "a":
            self.add_bookmark(text.strip())
        elif mode == "h3":
            self.open_folder(" ".join(text.split()))
        elif mode == "dd":
            description, notes = _split_notes(text)
            self.bookmarks[-1] = replace(self.bookmarks[-1], description=description, notes=notes)
            self.describable = False

    def open_folder(self, name: str) -> None:
        parent = self.folders[-1]
        if (self.attrs.get("id") or "").lower() == _READING_LIST_ID:
            self.pending = replace(parent, unread=True)
        elif any(a in self.attrs for a in _CONTAINER_ATTRIBUTES) or (
            not parent.tags and name.lower() in _CONTAINER_NAMES
        ):
            self.pending = parent
        else:
            self.pending = replace(parent, tags=_add_tags(parent.tags, [name]))

    def add_bookmark(self, title: str) -> None:
        href = _clean(self.attrs.get("href") or "")
        try:
            url = clean_url(href)
        except InvalidURL as error:
            reason = str(error) if href.strip() else "missing URL"
            self.rejected.append(Rejected(self.line, href[:200], title[:200], reason))
            return
        folder = self.folders[-1]
        visibility = (self.attrs.get("visibility") or "").lower()
        if visibility not in VISIBILITIES:
            visibility = _PRIVATE_VALUES.get((self.attrs.get("private") or "").lower(), "")
        toread = (self.attrs.get("toread") or "").lower() in ("1", "true")
        tags = _add_tags(folder.tags, _clean(self.attrs.get("tags") or "").split(","))
        self.bookmarks.append(
            NetscapeBookmark(
                url=url,
                title=title,
                tags=tags,
                added=_timestamp(self.attrs.get("add_date")),
                modified=_timestamp(self.attrs.get("last_modified")),
                visibility=visibility or None,
                unread=toread or folder.unread,
                line=self.line,
            )
        )
        self.describable = True


def parse(data: bytes) -> ParseResult:
    """Read a bookmark file from any browser; never raises on malformed input."""
    text, encoding = decode(data)
    reader = _Reader()
    # HTML treats CR LF and a lone CR as a line break; a CR meant as data is written &#13;.
    reader.read(text.replace("\r\n", "\n").replace("\r", "\n"))
    return ParseResult(tuple(reader.bookmarks), tuple(reader.rejected), encoding)


def _escape(text: str) -> str:
    return html.escape(text).replace("\r", "&#13;")


def render(items: Iterable[NetscapeBookmark]) -> str:
    """A Netscape bookmark file that browsers, linkding, Pinboard and `parse` read back."""
    lines = [
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>",
        "<!-- This is an automatically generated file. It will be read and overwritten. -->",
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">',
        "<TITLE>Bookmarks</TITLE>",
        "<H1>Bookmarks</H1>",
        "<DL><p>",
    ]
    for item in items:
        attributes = {"HREF": item.url}
        for name, moment in (("ADD_DATE", item.added), ("LAST_MODIFIED", item.modified)):
            if moment is not None:
                attributes[name] = str(int(moment.timestamp()))
        if item.visibility:
            # PRIVATE is what other tools read; VISIBILITY keeps "shared" for Driftwood.
            attributes["PRIVATE"] = "0" if item.visibility == "public" else "1"
            attributes["VISIBILITY"] = item.visibility
        attributes["TOREAD"] = "1" if item.unread else "0"
        if item.tags:
            attributes["TAGS"] = ",".join(item.tags)
        rendered = " ".join(f'{name}="{_escape(value)}"' for name, value in attributes.items())
        lines.append(f"    <DT><A {rendered}>{_escape(item.title)}</A>")
        if item.description or item.notes:
            notes = f"{NOTES_START}{_escape(item.notes)}{NOTES_END}" if item.notes else ""
            lines.append(f"    <DD>{_escape(item.description)}{notes}")
    lines.append("</DL><p>")
    return "\n".join(lines) + "\n"
