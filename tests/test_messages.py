"""Errors become sentences without losing the case of what they quote."""

import pytest

from driftwood.messages import sentence


@pytest.mark.parametrize(
    ("fragment", "shown"),
    [
        ("enter a URL", "Enter a URL."),
        ("not a valid URL (Invalid IPv6 URL)", "Not a valid URL (Invalid IPv6 URL)."),
        ("tag #C++ exists: https://Example.org/A", "Tag #C++ exists: https://Example.org/A."),
        ("Already a sentence.", "Already a sentence."),
        ("", ""),
    ],
)
def test_a_fragment_becomes_a_sentence_as_written(fragment: str, shown: str) -> None:
    assert sentence(fragment) == shown
