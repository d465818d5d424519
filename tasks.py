"""Driftwood's tasks: a table of contents. Run `invoke --list`, then `invoke --help TASK`.

The logic lives in the `ops` package; each task here only parses options and calls it.
"""

from pathlib import Path

from invoke import Collection, Context, Exit, task
from python_on_whales import DockerClient

from ops import bootstrap

PROJECT_ROOT = Path(__file__).resolve().parent


@task
def setup(c: Context) -> None:
    """Install and start what this host lacks: engine, buildx, compose, QEMU, registry."""
    the_plan = bootstrap.setup(DockerClient(), print)
    for item in the_plan.missing:
        print(f"missing: {item.what}; fix: {item.fix}")
    if the_plan.missing:
        raise Exit("setup could not complete this host; run the fixes above", code=1)


ns = Collection(setup)
