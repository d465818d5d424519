"""The README's measured block: rendered from a lesson record, injected between markers."""

import pytest

from ops import measured
from ops.measured import MeasuredError

RECORD = {
    "chapter": 3,
    "recorded": "2026-11-28T22:00:00+00:00",
    "claims": [
        {"claim": "Shell form is killed.", "passed": True, "observed": "exit 137 after 3.1 s"},
        {"claim": "Pipes | escaped.", "passed": False, "observed": "a | b"},
    ],
}


def test_render_lists_each_claim_and_the_compare_numbers() -> None:
    block = measured.render(RECORD, {"size_mb": 142.5, "layers": 3, "cold_s": None}, "today")
    lines = block.splitlines()
    assert lines[0] == "Measured by `invoke stage.check 3` on today:"
    assert "| Shell form is killed. | PASS | exit 137 after 3.1 s |" in lines
    assert "| Pipes | escaped. | FAIL | a \\| b |" in lines
    assert lines[-1] == (
        "From the compare report (`invoke report.compare`): image size (MB): 142.5; layers: 3"
    )


def test_inject_replaces_only_between_the_markers() -> None:
    readme = f"# T\n\n{measured.BEGIN}\nold\n{measured.END}\n\n## Next\n"
    updated = measured.inject(readme, "new", "README.md")
    assert updated == f"# T\n\n{measured.BEGIN}\nnew\n{measured.END}\n\n## Next\n"
    assert measured.inject(updated, "new", "README.md") == updated


def test_inject_names_the_file_without_markers() -> None:
    with pytest.raises(MeasuredError, match=r"chapters/x/README\.md: add the markers"):
        measured.inject("# no markers\n", "new", "chapters/x/README.md")
