"""The search box syntax, parsed into a plain value (no database, no Flask).

Users of linkding and Shaarli type: words, "exact phrase", #tag, -word, -"phrase", -#tag,
is:unread / is:read (also linkding's !unread), is:public / is:private and site:example.org.
Anything else is searched as a word. `parse_query` is total: it never raises, whatever it is
given, because it runs on untrusted input before any validation.
"""

import contextlib
import unicodedata
from dataclasses import dataclass

# Long enough for any real query, short enough that a pasted novel cannot build a huge SQL query.
MAX_QUERY_LENGTH = 1000

_UNREAD = {"is:unread": True, "!unread": True, "is:read": False}
_PUBLIC = {"is:public": True, "is:private": False}


@dataclass(frozen=True)
class SearchQuery:
    terms: tuple[str, ...] = ()  # plain words (full-text)
    phrases: tuple[str, ...] = ()  # "exact phrase"
    tags: tuple[str, ...] = ()  # #tag (all required), lowercased
    excluded_terms: tuple[str, ...] = ()  # -word and -"phrase"
    excluded_tags: tuple[str, ...] = ()  # -#tag
    sites: tuple[str, ...] = ()  # site:example.org (host or a parent domain), lowercased
    unread: bool | None = None  # is:unread -> True, -is:unread -> False
    public: bool | None = None  # is:public -> True, is:private -> False

    def is_empty(self) -> bool:
        return self == SearchQuery()


def _clean(text: str) -> str:
    """Drop what PostgreSQL or the UTF-8 encoder would reject (NUL, lone surrogates)."""
    text = text[:MAX_QUERY_LENGTH]
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)


def normalize_site(value: str) -> str:
    """`site:` accepts a host or a pasted URL; keep only the lowercased host name."""
    host = value.split("://", 1)[-1]
    for separator in "/?#":
        host = host.split(separator, 1)[0]
    host = host.rsplit("@", 1)[-1]
    # Drop the port; an IPv6 literal keeps the colons inside its brackets.
    host = host.split("]", 1)[0] + "]" if host.startswith("[") else host.split(":", 1)[0]
    host = host.strip(".").lower()
    if not host.isascii():
        # Browsers save URLs with ASCII (punycode) hosts; an invalid name is kept as typed.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host


def _tokens(text: str) -> list[tuple[bool, bool, str]]:
    """Split into (negated, quoted, text) tokens; an unterminated quote runs to the end."""
    tokens = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = text[i] == "-"
        start = i + 1 if negated else i
        if start < n and text[start] == '"':
            end = text.find('"', start + 1)
            end = n if end == -1 else end
            tokens.append((negated, True, " ".join(text[start + 1 : end].split())))
            i = end + 1
            continue
        end = start
        while end < n and not text[end].isspace():
            end += 1
        tokens.append((negated, False, text[start:end]))
        i = end
    return tokens


def parse_query(text: str) -> SearchQuery:
    """Parse the search box; conflicting flags (is:read is:unread): the last one wins."""
    found: dict[str, list[str]] = {
        "terms": [],
        "phrases": [],
        "tags": [],
        "excluded_terms": [],
        "excluded_tags": [],
        "sites": [],
    }
    flags: dict[str, bool | None] = {"unread": None, "public": None}
    for negated, quoted, token in _tokens(_clean(text if isinstance(text, str) else "")):
        if not token:
            continue
        lowered = token.lower()
        if quoted:
            found["excluded_terms" if negated else "phrases"].append(token)
        elif token.startswith("#"):
            if tag := lowered[1:]:
                found["excluded_tags" if negated else "tags"].append(tag)
        elif lowered in _UNREAD:
            flags["unread"] = _UNREAD[lowered] != negated
        elif lowered in _PUBLIC:
            flags["public"] = _PUBLIC[lowered] != negated
        elif lowered.startswith("site:") and not negated:
            if site := normalize_site(token[5:]):
                found["sites"].append(site)
        else:
            found["excluded_terms" if negated else "terms"].append(token)
    unique = {key: tuple(dict.fromkeys(values)) for key, values in found.items()}
    return SearchQuery(**unique, **flags)


def _bare(word: str) -> bool:
    """Whether `word` reads back as itself after a `-` (otherwise it needs quotes)."""
    lowered = word.lower()
    return not (
        any(c.isspace() for c in word)
        or word.startswith(('"', "#"))
        or lowered in _UNREAD
        or lowered in _PUBLIC
    )


def format_query(query: SearchQuery) -> str:
    """The canonical text of a query: `parse_query(format_query(q)) == q` for parsed queries.

    The UI uses it to add or remove one filter (a clicked tag) and keep the rest.
    """
    parts = [*query.terms, *(f'"{p}"' for p in query.phrases)]
    parts += [f"#{t}" for t in query.tags]
    parts += [f"-{w}" if _bare(w) else f'-"{w}"' for w in query.excluded_terms]
    parts += [f"-#{t}" for t in query.excluded_tags]
    parts += [f"site:{s}" for s in query.sites]
    if query.unread is not None:
        parts.append("is:unread" if query.unread else "is:read")
    if query.public is not None:
        parts.append("is:public" if query.public else "is:private")
    return " ".join(parts)
