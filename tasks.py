"""Driftwood's tasks: a table of contents. Run `invoke --list`, then `invoke --help TASK`.

The logic lives in the `ops` package; each task here only parses options and calls it.
"""

from pathlib import Path

from invoke import Collection

PROJECT_ROOT = Path(__file__).resolve().parent

ns = Collection()
