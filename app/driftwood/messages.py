"""Errors shown to the user as flash messages.

The library's errors are sentence fragments ("only http:// and https:// URLs can be
bookmarked") so that they read well inside other text; a page shows them as sentences.
"""

from flask import flash


def sentence(text: str) -> str:
    """The first letter upper case and a full stop at the end; the rest as written.

    Not str.capitalize(): it lowercases everything after the first letter, so "URL" became
    "url" and a URL quoted in the message lost its case."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def flash_error(error: Exception) -> None:
    flash(sentence(str(error)), "error")
