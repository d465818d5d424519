"""URL checks and normalisation (duplicate detection)."""

import pytest

from driftwood.urls import InvalidURL, clean_url, is_safe_link, normalize_url


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("HTTPS://Example.ORG:443/a/?utm_source=x&b=2&a=1", "https://example.org/a?a=1&b=2"),
        ("example.org", "https://example.org/"),
        ("http://example.org:80", "http://example.org/"),
        ("http://example.org:8080/", "http://example.org:8080/"),
        ("https://bücher.de/%7euser/%2f", "https://xn--bcher-kva.de/~user/%2F"),
        ("https://example.org/#/app/route", "https://example.org/#/app/route"),
        ("https://example.org/?fbclid=abc", "https://example.org/"),
        ("https://[::1]:8080/p/", "https://[::1]:8080/p"),
    ],
)
def test_normalisation(given, normalized):
    assert normalize_url(given) == normalized


def test_normalisation_is_idempotent():
    once = normalize_url("HTTP://Example.org/a%20b/?z=1&a=%C3%A9")
    assert normalize_url(once) == once


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<b>",
        "ftp://x.org/",
        "",
        "http://",
        "https://x.org:abc/",
        "https://x.org/a\nb",
        "https://x.org/\udc80",
        "https://" + "a" * 3000 + ".org",
    ],
)
def test_only_http_urls_are_accepted(text):
    with pytest.raises(InvalidURL):
        clean_url(text)


def test_safe_links():
    assert is_safe_link("https://example.org")
    assert not is_safe_link(" javascript:alert(1)")
    assert not is_safe_link("data:text/html,x")
