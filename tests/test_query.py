"""The search syntax parser: examples users type, and fuzzing for totality and round trips."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from driftwood.query import MAX_QUERY_LENGTH, SearchQuery, format_query, parse_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SearchQuery()),
        ("   \t\n", SearchQuery()),
        ("docker compose", SearchQuery(terms=("docker", "compose"))),
        ('"exact  phrase" word', SearchQuery(terms=("word",), phrases=("exact phrase",))),
        ("#Python #web", SearchQuery(tags=("python", "web"))),
        ("-java -#PHP", SearchQuery(excluded_terms=("java",), excluded_tags=("php",))),
        ('-"spring boot"', SearchQuery(excluded_terms=("spring boot",))),
        ("is:unread", SearchQuery(unread=True)),
        ("!unread", SearchQuery(unread=True)),
        ("-is:unread", SearchQuery(unread=False)),
        ("is:read", SearchQuery(unread=False)),
        ("IS:PUBLIC", SearchQuery(public=True)),
        ("is:private", SearchQuery(public=False)),
        ("-is:private", SearchQuery(public=True)),
        ("is:unread is:read", SearchQuery(unread=False)),
        ("site:Example.ORG", SearchQuery(sites=("example.org",))),
        ("site:https://u@www.example.org:8443/p?q#f", SearchQuery(sites=("www.example.org",))),
        ("site:[::1]:8080/x", SearchQuery(sites=("[::1]",))),
        ("site:bücher.de", SearchQuery(sites=("xn--bcher-kva.de",))),
        ("site: site:/", SearchQuery()),
        ("is:starred foo:bar", SearchQuery(terms=("is:starred", "foo:bar"))),
        ("-site:example.org", SearchQuery(excluded_terms=("site:example.org",))),
        ('"unterminated phrase', SearchQuery(phrases=("unterminated phrase",))),
        ('"" -"" - # -#', SearchQuery()),
        ("word word #t #T", SearchQuery(terms=("word",), tags=("t",))),
        ('foo"bar baz"', SearchQuery(terms=('foo"bar', 'baz"'))),
        ("nul\x00byte", SearchQuery(terms=("nul", "byte"))),
    ],
)
def test_parse_examples(text: str, expected: SearchQuery) -> None:
    assert parse_query(text) == expected


def test_is_empty() -> None:
    assert parse_query("  ").is_empty()
    assert not parse_query("is:unread").is_empty()
    assert not parse_query("x").is_empty()


def test_format_reads_back_special_excluded_words() -> None:
    query = parse_query('-"is:unread" -"#notatag" -"two words" --dash')
    assert query.excluded_terms == ("is:unread", "#notatag", "two words", "-dash")
    assert format_query(query) == '-"is:unread" -"#notatag" -"two words" --dash'
    assert parse_query(format_query(query)) == query


def test_long_input_is_truncated() -> None:
    query = parse_query("a " * MAX_QUERY_LENGTH)
    assert query.terms == ("a",)
    assert len(parse_query(" ".join(f"w{i}" for i in range(5000))).terms) < MAX_QUERY_LENGTH


def test_non_string_input_is_an_empty_query() -> None:
    assert parse_query(None).is_empty()  # type: ignore[arg-type]


# The alphabet leans on the characters the syntax gives meaning to, so the fuzzer hits them.
syntax_text = st.text(
    alphabet=st.one_of(st.sampled_from(' "-#:!.isteunradpublcvIS/[]@\t'), st.characters()),
    max_size=120,
)


@given(st.text())
@example("\ud800")
def test_parse_never_raises_on_any_text(text: str) -> None:
    assert isinstance(parse_query(text), SearchQuery)


@given(syntax_text)
@example('-"is:unread" -#x ##y --z "a  b" site:ß.de is:read !unread')
def test_format_then_parse_is_identity(text: str) -> None:
    query = parse_query(text)
    assert parse_query(format_query(query)) == query


@given(syntax_text)
def test_parsed_values_are_clean(text: str) -> None:
    query = parse_query(text)
    words = (*query.terms, *query.tags, *query.excluded_tags, *query.sites)
    for value in (*words, *query.phrases, *query.excluded_terms):
        assert value
        assert value == value.strip()
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogates: the database driver must accept it
    assert not any(any(c.isspace() for c in w) for w in words)
    assert all(t == t.lower() for t in (*query.tags, *query.excluded_tags))
    assert all(s == s.lower() for s in query.sites)
    fields = (query.terms, query.phrases, query.tags, query.excluded_terms, query.sites)
    assert all(len(set(f)) == len(f) for f in fields)
