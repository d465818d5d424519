"""The Netscape bookmark file: real browser exports, broken files, and render/parse round trips."""

import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwood.netscape import (
    MAX_RECOVERIES,
    MAX_TAGS,
    NOTES_END,
    NOTES_START,
    NetscapeBookmark,
    decode,
    parse,
    render,
)
from driftwood.tagging import clean_tag_names

SCHEME = "only http:// and https:// URLs can be bookmarked"
DATA = Path(__file__).parent / "data" / "bookmarks"


def load(name: str):
    return parse((DATA / name).read_bytes())


def by_url(result) -> dict[str, NetscapeBookmark]:
    return {b.url: b for b in result.bookmarks}


def reasons(result) -> list[tuple[int, str]]:
    return [(r.line, r.reason) for r in result.rejected]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_firefox_export() -> None:
    result = load("firefox.html")
    bookmarks = by_url(result)
    assert len(bookmarks) == 8
    customize = bookmarks["https://www.mozilla.org/en-US/firefox/customize/"]
    assert customize.title == "Customize Firefox"
    assert customize.tags == ("Mozilla-Firefox", "howto", "Firefox")
    assert customize.description == "Themes, add-ons & toolbar layout"
    assert customize.added == at(1700000004)
    assert customize.line == 18
    # The toolbar is a browser container: its subfolders are tags, it is not.
    assert bookmarks["https://docs.python.org/3/"].tags == ()
    assert bookmarks["https://docs.docker.com/compose/"].tags == ("Dev-Tools", "Containers")
    assert bookmarks["https://developer.mozilla.org/en-US/docs/Web/HTML"].tags == ("Dev-Tools",)
    about = bookmarks["https://www.mozilla.org/en-US/about/"]
    assert about.modified == at(1700000100)
    assert about.visibility is None  # a browser does not say; the importer decides
    # A folder's own <DD> is not the description of the bookmark before it.
    assert bookmarks["https://support.mozilla.org/en-US/products/firefox"].description == ""
    assert reasons(result) == [
        (13, SCHEME),
        (34, SCHEME),
    ]


def test_chrome_export() -> None:
    result = load("chrome.html")
    bookmarks = by_url(result)
    assert len(bookmarks) == 6
    bread = bookmarks["https://www.kingarthurbaking.com/recipes/classic-sandwich-bread-recipe"]
    assert bread.tags == ("Recipes", "Bread-&-Baking")
    cookies = bookmarks[
        "https://www.seriouseats.com/the-food-lab-best-chocolate-chip-cookie-recipe"
    ]
    assert cookies.title == "The Food Lab's Chocolate Chip Cookies"
    assert bookmarks["https://www.bbc.com/news"].tags == ()  # "Mobile bookmarks" is a container
    assert reasons(result) == [(20, SCHEME)]


def test_safari_export_reading_list_is_unread() -> None:
    result = load("safari.html")
    bookmarks = by_url(result)
    assert len(bookmarks) == 6
    assert bookmarks["https://www.sbb.ch/en"].tags == ("Travel",)
    assert bookmarks["https://www.apple.com/uk/"].tags == ()
    # An H3 without a <DL> is an empty folder: the next link is not inside it.
    assert bookmarks["https://www.icloud.com/"].tags == ()
    lwn = bookmarks["https://lwn.net/Articles/954285/"]
    assert lwn.unread
    assert lwn.tags == ()
    assert lwn.description.startswith("A look at self-hosted")
    assert not bookmarks["https://www.apple.com/uk/"].unread
    assert result.rejected == ()


def test_edge_export_with_international_names() -> None:
    result = load("edge.html")
    bookmarks = by_url(result)
    koeln = bookmarks["https://www.bürgerbüro.example/öffnungszeiten?tag=montag&ort=köln"]
    assert koeln.title == "Öffnungszeiten \u2013 Bürgerbüro Köln"
    assert koeln.tags == ("Café-&-Crème",)
    assert bookmarks["https://ja.wikipedia.org/wiki/%E6%9D%B1%E4%BA%AC"].title == "東京 - Wikipedia"
    assert bookmarks["https://www.bing.com/maps"].tags == ()
    assert reasons(result) == [(20, SCHEME)]


def test_linkding_and_pinboard_attributes() -> None:
    bookmarks = load("linkding.html").bookmarks
    linkding, pinboard, escaped = bookmarks
    assert linkding.visibility == "public"
    assert not linkding.unread
    assert linkding.tags == ("selfhosted", "bookmarks")
    assert linkding.description.endswith("easy to set up using Docker.")
    assert linkding.notes == "Compare with Driftwood's API.\nSecond line of the notes."
    assert pinboard.visibility == "private"
    assert pinboard.unread
    assert escaped.url == 'https://example.org/a&b?x="1"'
    assert escaped.title == 'Escaped <title> & "quotes"'
    assert escaped.description == "Uses <b>markup</b> as text"


@pytest.mark.parametrize(
    ("name", "encoding", "title", "tags"),
    [
        ("ie-windows-1252.html", "cp1252", "Café \u2013 “quoted” € 5", ("Résumés",)),
        ("undeclared-latin1.html", "cp1252", "Naïve déjà vu", ()),
        ("utf16-bom-crlf.html", "utf-16-le", "Αθήνα \u2013 Βικιπαίδεια", ("Ελληνικά",)),
    ],
)
def test_odd_encodings(name: str, encoding: str, title: str, tags: tuple[str, ...]) -> None:
    result = load(name)
    assert result.encoding == encoding
    (bookmark,) = result.bookmarks
    assert bookmark.title == title
    assert bookmark.tags == tags


def test_utf16_file_keeps_description_without_carriage_returns() -> None:
    (bookmark,) = load("utf16-bom-crlf.html").bookmarks
    assert bookmark.description == "Πρωτεύουσα της Ελλάδας"
    assert bookmark.line == 7


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        (b"\xef\xbb\xbfcaf\xc3\xa9", "café", "utf-8"),
        (
            b'<meta charset="nonsense-codec">caf\xc3\xa9',
            '<meta charset="nonsense-codec">café',
            "utf-8",
        ),
        (b"<meta charset=rot13>abc", "<meta charset=rot13>abc", "utf-8"),
        (b"<meta charset=utf-16>abc", "<meta charset=utf-16>abc", "utf-8"),
        (b"<meta charset=utf-8>caf\xe9", "<meta charset=utf-8>caf\ufffd", "utf-8"),
        (b"<meta charset=koi8-r>\xf0\xd2\xc9", "<meta charset=koi8-r>При", "koi8-r"),
    ],
)
def test_decode_never_fails(data: bytes, text: str, encoding: str) -> None:
    assert decode(data) == (text, encoding)


def test_malformed_file_keeps_what_it_can_and_says_why_for_the_rest() -> None:
    result = load("malformed.html")
    bookmarks = by_url(result)
    assert set(bookmarks) == {
        "https://example.org/no-end-tag",
        "https://example.org/entity",
        "https://example.org/in-unclosed",
        "https://example.org/after-stray-end",
        "https://example.org/nested",
        "https://example.org/nul",
    }
    assert bookmarks["https://example.org/no-end-tag"].title == "No end tag"
    assert bookmarks["https://example.org/no-end-tag"].added is None  # "not-a-date"
    # DTD entities are never expanded (no "billion laughs"); unknown ones stay text.
    entity = bookmarks["https://example.org/entity"]
    assert entity.title == "Laughs: &lol2; & &nosuchentity;"
    assert entity.added == at(1700000000)  # written in milliseconds
    unclosed = bookmarks["https://example.org/in-unclosed"]
    assert unclosed.tags == ("Unclosed-folder",)
    assert unclosed.description == "Description with a\nline break"
    assert bookmarks["https://example.org/after-stray-end"].tags == ("spaced-tag", "Dup")
    assert bookmarks["https://example.org/after-stray-end"].title == "After stray ends"
    assert bookmarks["https://example.org/nul"].title == "Title with a NUL"
    assert bookmarks["https://example.org/nul"].unread
    assert reasons(result) == [
        (10, "missing URL"),
        (11, "missing URL"),
        (12, SCHEME),
        (13, "the URL has no host name"),
        (14, "not a valid URL (Invalid IPv6 URL)"),
        (15, "the URL has no host name"),
        (16, SCHEME),
        (26, "unreadable markup (unclosed tag or quote)"),
    ]


def test_deep_nesting_is_iterative_and_bounded() -> None:
    depth = 20_000
    data = b"<DL><p><DT><H3>f</H3>\n" * depth + b'<DT><A HREF="https://deep.example/">x</A>'
    started = time.perf_counter()
    (bookmark,) = parse(data).bookmarks
    assert time.perf_counter() - started < 10  # generous: a quadratic walk would take minutes
    assert bookmark.tags == ("f",)  # the same name at every level is one tag
    varied = b"".join(b"<DL><DT><H3>f%d</H3>" % i for i in range(300))
    (bookmark,) = parse(varied + b'<DL><DT><A HREF="https://deep.example/">x</A>').bookmarks
    assert len(bookmark.tags) == MAX_TAGS
    assert bookmark.tags[0] == "f0"


def test_differently_named_folders_cost_the_same_at_every_depth() -> None:
    # Each folder's tags are its parent's plus its own name, and are never cleaned again:
    # re-cleaning MAX_TAGS names at each of 100,000 levels took a minute and 600 MiB.
    chain = b"".join(b"<DL><DT><H3>f%d</H3>" % i for i in range(3000))
    tracemalloc.start()
    try:
        (bookmark,) = parse(chain + b'<DL><DT><A HREF="https://deep.example/">x</A>').bookmarks
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bookmark.tags == tuple(f"f{i}" for i in range(MAX_TAGS))
    assert peak < 8 * 2**20  # the old way: 18 MiB here


def test_an_unclosed_comment_is_reported_and_read_past() -> None:
    data = (
        b'<DT><A HREF="https://a.example/">A</A>\n'
        b"<!-- a comment that never ends\n"
        b'<DT><A HREF="https://b.example/">B</A>\n'
    )
    result = parse(data)
    assert [b.title for b in result.bookmarks] == ["A", "B"]
    assert reasons(result) == [(2, "unreadable markup (unclosed tag or quote)")]


@pytest.mark.parametrize("section", [b"<![!>", b"<![ x>", b"<![CDATA[x]]>"])
def test_a_marked_section_without_a_name_is_read_past(section: bytes) -> None:
    # Found by the damaged-fixtures test: Python 3.11's parser raised AssertionError on `<![!`.
    data = (
        b'<DT><A HREF="https://a.example/">A</A>\n'
        + section
        + b'\n<DT><A HREF="https://b.example/">B</A>\n'
    )
    assert [b.title for b in parse(data).bookmarks] == ["A", "B"]


@pytest.mark.parametrize("unit", [b"<a ", b'<A HREF="', b"<!--", b"<script>"])
def test_hostile_unfinished_markup_costs_linear_time(unit: bytes) -> None:
    # html.parser's own recovery rescans the rest of the file at every "<": minutes here.
    data = b'<DT><A HREF="https://kept.example/">Kept</A>\n' + unit * 20_000
    started = time.perf_counter()
    result = parse(data)
    assert time.perf_counter() - started < 10  # generous: the quadratic path takes minutes
    assert [b.url for b in result.bookmarks] == ["https://kept.example/"]
    assert 1 <= len(result.rejected) <= MAX_RECOVERIES + 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1700000000", 1700000000), ("1700000000123", 1700000000), ("1700000000123456", 1700000000)],
)
def test_add_date_units(value: str, expected: int) -> None:
    data = f'<DT><A HREF="https://x.example/" ADD_DATE="{value}">x</A>'.encode()
    assert parse(data).bookmarks[0].added == at(expected)


@pytest.mark.parametrize("value", ["", "-5", "0", "nan", "inf", "1e999", "12abc"])
def test_bad_add_dates_are_ignored(value: str) -> None:
    data = f'<DT><A HREF="https://x.example/" ADD_DATE="{value}">x</A>'.encode()
    assert parse(data).bookmarks[0].added is None


def test_visibility_attribute_wins_over_private() -> None:
    data = b'<DT><A HREF="https://x.example/" PRIVATE="1" VISIBILITY="shared">x</A>'
    assert parse(data).bookmarks[0].visibility == "shared"


def test_render_is_readable_by_browsers_and_linkding() -> None:
    text = render(
        [
            NetscapeBookmark(
                url="https://example.org/?a=1&b=2",
                title="<Title>",
                description="line 1\r\nline 2",
                notes="my notes",
                tags=("python", "web"),
                added=at(1700000000),
                visibility="shared",
                unread=True,
            )
        ]
    )
    assert text.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n")
    assert (
        '<DT><A HREF="https://example.org/?a=1&amp;b=2" ADD_DATE="1700000000" PRIVATE="1"'
        ' VISIBILITY="shared" TOREAD="1" TAGS="python,web">&lt;Title&gt;</A>'
    ) in text
    assert f"<DD>line 1&#13;\nline 2{NOTES_START}my notes{NOTES_END}" in text


# What Driftwood stores: stripped text without NUL or lone surrogates, clean tags.
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00")).map(str.strip)
_tags = st.lists(_text, max_size=8).map(clean_tag_names)
_moments = st.integers(1, 4_000_000_000).map(at)
_urls = st.builds(
    "{}://{}.example/{}".format,
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=40),
)
_bookmarks = st.builds(
    NetscapeBookmark,
    url=_urls.map(str.strip),
    title=_text,
    description=_text.filter(lambda t: NOTES_START not in t),
    notes=_text.filter(lambda t: NOTES_END not in t),
    tags=_tags.map(tuple),
    added=st.none() | _moments,
    modified=st.none() | _moments,
    visibility=st.none() | st.sampled_from(["private", "shared", "public"]),
    unread=st.booleans(),
)


@given(st.lists(_bookmarks, max_size=5))
def test_render_then_parse_gives_the_same_bookmarks(items: list[NetscapeBookmark]) -> None:
    result = parse(render(items).encode("utf-8"))
    assert result.rejected == ()
    assert list(result.bookmarks) == items


@given(st.binary(max_size=2000))
def test_parse_never_raises_on_bytes(data: bytes) -> None:
    parse(data)


_MARKUP = st.lists(
    st.sampled_from(
        [
            "<DL><p>",
            "</DL><p>",
            "<DT>",
            "<DD>",
            "</DD>",
            "<H3>",
            "</H3>",
            "</A>",
            "<BR>",
            '<A HREF="https://a.example/">',
            '<A HREF="javascript:x">',
            "<A>",
            '<A HREF="',
            ' TAGS="x,y">',
            "<!--",
            "-->",
            "<!DOCTYPE x [",
            "]>",
            "&amp;",
            "&#",
            "\r",
            "\n",
            "<meta charset=utf-16>",
            "<script>",
            "</script>",
            "<![CDATA[",
            "\x00",
            "text",
        ]
    )
    | st.text(max_size=5),
    max_size=60,
).map("".join)


@settings(max_examples=300)
@given(_MARKUP)
def test_parse_never_raises_on_markup_soup(text: str) -> None:
    result = parse(text.encode("utf-8", "surrogatepass"))
    for bookmark in result.bookmarks:
        assert bookmark.url.startswith(("http://", "https://"))
        assert "\x00" not in bookmark.title + bookmark.description + "".join(bookmark.tags)
        assert len(bookmark.tags) <= MAX_TAGS


@settings(max_examples=100)
@given(st.sampled_from(sorted(p.name for p in DATA.glob("*.html"))), st.data())
def test_parse_never_raises_on_damaged_fixtures(name: str, data: st.DataObject) -> None:
    content = bytearray((DATA / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 20))):
        position = data.draw(st.integers(0, len(content)))
        content[position:position] = data.draw(st.binary(min_size=1, max_size=4))
    cut = data.draw(st.integers(0, len(content)))
    parse(bytes(content[:cut]))
