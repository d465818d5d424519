"""The "What you should observe" numbers of a chapter README, generated, never typed.

`invoke stage.measured N` renders the last recorded lesson run (reports/NN-slug/lesson.json,
written by `invoke stage.check N` and by the stage tests) and, for stages with an image, the
stage's row of the compare report, and writes them between the README's markers.
"""

from __future__ import annotations

from typing import Any

BEGIN = "<!-- measured:begin -->"
END = "<!-- measured:end -->"

# Compare-report columns worth a learner's attention, with their labels.
COMPARE_FIELDS = {
    "size_mb": "image size (MB)",
    "compressed_mb": "compressed (MB)",
    "layers": "layers",
    "cold_s": "cold build (s)",
    "rebuild_s": "rebuild after a code change (s)",
    "user": "runs as",
}


class MeasuredError(Exception):
    """The README lacks the markers; the message names the file."""


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render(lesson: dict[str, Any], compare_row: dict[str, Any] | None, when: str) -> str:
    """Markdown: each claim with its result and observation, then the compare numbers."""
    lines = [
        f"Measured by `invoke stage.check {lesson['chapter']}` on {when}:",
        "",
        "| Claim | Result | Observed |",
        "|---|---|---|",
    ]
    for claim in lesson["claims"]:
        observed = claim["observed"].replace("|", "\\|")
        lines.append(f"| {claim['claim']} | {'PASS' if claim['passed'] else 'FAIL'} | {observed} |")
    if compare_row:
        cells = [
            f"{label}: {_value(compare_row[key])}"
            for key, label in COMPARE_FIELDS.items()
            if compare_row.get(key) is not None
        ]
        if cells:
            lines += ["", "From the compare report (`invoke report.compare`): " + "; ".join(cells)]
    return "\n".join(lines)


def inject(readme: str, block: str, where: str) -> str:
    """`readme` with everything between the markers replaced by `block`."""
    try:
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError as exc:
        raise MeasuredError(f"{where}: add the markers {BEGIN} and {END}") from exc
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"
