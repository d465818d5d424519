"""Bookmark URLs: validation (http and https only) and normalisation for duplicates.

The URL a user saved is stored as given; the normalised form exists only to notice that
`HTTPS://Example.org:443/a/?utm_source=x` is the bookmark `https://example.org/a` again.
"""

import contextlib
import re
import string
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048  # what browsers and most servers accept; also keeps the index small
# Campaign and click trackers: they never change what a page is.
TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_eid", "igshid"})


# RFC 3986: %-escapes of these characters mean the character itself; other escapes matter.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_UNRESERVED_ESCAPE = re.compile("%([0-9A-Fa-f]{2})")
_PATH_SAFE = "/:@!$&'()*+,;=%"


def _decode_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0).upper()


class InvalidURL(ValueError):
    """The text is not an http(s) URL that can be bookmarked; str() says why."""


def clean_url(text: str) -> str:
    """The URL to store: trimmed, `example.org` completed to https, checked for safety.

    Only http and https are accepted, so a stored bookmark can never be a `javascript:` or
    `data:` link that runs code when someone clicks it.
    """
    url = text.strip()
    if not url:
        raise InvalidURL("enter a URL")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"URLs longer than {MAX_URL_LENGTH} characters are not supported")
    if any(ord(c) < 32 or c == "\x7f" or "\ud800" <= c <= "\udfff" for c in url):
        raise InvalidURL("the URL contains control characters or broken Unicode")
    if "://" not in url and ":" not in url.split("/", 1)[0]:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise InvalidURL(f"not a valid URL ({error})") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise InvalidURL("only http:// and https:// URLs can be bookmarked")
    if not parts.hostname:
        raise InvalidURL("the URL has no host name")
    return url


def is_safe_link(url: str) -> bool:
    """Whether the URL may become an href (templates and feeds never link anything else)."""
    try:
        return urlsplit(url.strip()).scheme.lower() in ALLOWED_SCHEMES
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """The duplicate-detection key of a URL that `clean_url` accepted."""
    parts = urlsplit(clean_url(url))
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host.isascii():
        # Not a valid international name: keep it as typed, lowercased.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    host = f"[{host}]" if ":" in host else host
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = quote(_UNRESERVED_ESCAPE.sub(_decode_unreserved, parts.path), safe=_PATH_SAFE) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = urlencode(
        sorted(
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMETERS
        )
    )
    return urlunsplit((scheme, netloc.lower(), path, query, parts.fragment))
