"""The `driftwood` command: admin jobs run beside the web app (one-shot containers)."""

import argparse
import sys
from collections.abc import Callable, Sequence

from driftwood import create_app, db
from driftwood.config import ConfigError


def migrate(_args: argparse.Namespace) -> int:
    app = create_app()
    with db.get_db(app).engine.begin() as connection:
        db.upgrade_schema(connection)
    print("driftwood: database schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftwood", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="apply the database migrations").set_defaults(run=migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
