"""The `driftwood` command: admin jobs run beside the web app (one-shot containers).

driftwood migrate                    apply the database migrations (never done at web start)
driftwood create-user NAME           create an account (password from a prompt or stdin)
driftwood reset-password NAME        set a new password and unlock the account
driftwood import FILE --user NAME    import a browser's bookmark file [--dry-run]
driftwood export --user NAME         write the user's bookmarks [--format html|json]
driftwood healthcheck                probe the local web server (the image's HEALTHCHECK)
"""

import argparse
import getpass
import json
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from psycopg.errors import ConnectionTimeout
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from driftwood import accounts, create_app, db, importer, netscape, transfer
from driftwood.config import ConfigError
from driftwood.models import User

HEALTH_URL = "http://127.0.0.1:8000/healthz"
# The migration job runs once per deploy, right after the database turned healthy. Nobody
# waits on it, so a first handshake that outlasts the app's 2 s connect timeout is tried again
# for up to this many seconds rather than failing the deploy: in CI on a shared 2-core VM the
# job now and then got no answer for over 6 s (three 2 s attempts) right after PostgreSQL
# turned healthy, under the disk load of the builds before it. A refused connection (nothing
# listening yet) still fails at once: startup order is compose's job (depends_on:
# service_healthy), not this one's.
MIGRATE_CONNECT_PATIENCE_S = 30


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


@contextmanager
def _session(app: Flask) -> Iterator[Session]:
    with db.get_db(app).sessions() as session:
        yield session


def _user(session: Session, username: str) -> User:
    user = accounts.get_user(session, username)
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


def _read_password(args: argparse.Namespace) -> str:
    """From --password-stdin (scripts, secrets) or twice from an interactive prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Password again: "):
        raise CommandError("the two passwords differ")
    return password


def migrate(_args: argparse.Namespace) -> int:
    engine = db.get_db(create_app()).engine
    deadline = time.monotonic() + MIGRATE_CONNECT_PATIENCE_S
    while True:
        try:
            with engine.begin() as connection:
                db.upgrade_schema(connection)
            break
        except OperationalError as error:
            if not isinstance(error.orig, ConnectionTimeout) or time.monotonic() > deadline:
                raise
            left = max(0, round(deadline - time.monotonic()))
            print(
                f"driftwood: the database did not answer in time; trying again ({left} s left)",
                file=sys.stderr,
            )
    engine.dispose()
    print("driftwood: the database schema is up to date")
    return 0


def create_user(args: argparse.Namespace) -> int:
    with _session(create_app()) as session:
        try:
            user = accounts.create_user(session, args.username, _read_password(args))
        except accounts.AccountError as error:
            raise CommandError(str(error)) from None
        session.commit()
        print(f"driftwood: created user {user.username}")
    return 0


def reset_password(args: argparse.Namespace) -> int:
    with _session(create_app()) as session:
        user = _user(session, args.username)
        try:
            accounts.set_password(user, _read_password(args))
        except accounts.AccountError as error:
            raise CommandError(str(error)) from None
        session.commit()
        print(f"driftwood: new password set for {user.username}; the account is unlocked")
    return 0


def import_file(args: argparse.Namespace) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {args.file}: {error.strerror}") from None
    with _session(create_app()) as session:
        user = _user(session, args.user)
        report = importer.import_bookmarks(
            session, user, netscape.parse(data), dry_run=args.dry_run
        )
        if not args.dry_run:
            session.commit()
    verb = "would be" if args.dry_run else "were"
    print(
        f"driftwood: {len(report.added)} {verb} added, {len(report.updated)} updated,"
        f" {len(report.skipped)} skipped as duplicates, {len(report.rejected)} rejected"
    )
    for entry in report.rejected:
        print(f"  line {entry.line}: {entry.url or entry.title!r}: {entry.detail}")
    return 0


def export(args: argparse.Namespace) -> int:
    with _session(create_app()) as session:
        user = _user(session, args.user)
        if args.format == "json":
            text = json.dumps(transfer.export_json(session, user), indent=2, ensure_ascii=False)
        else:
            text = netscape.render(transfer.exported_items(session, user))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when the web server answers /healthz with 200: a HEALTHCHECK without curl."""
    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"driftwood: unhealthy: {error}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftwood", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], int], help: str):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    command("migrate", migrate, "apply the database migrations")
    for name, run, help in (
        ("create-user", create_user, "create an account"),
        ("reset-password", reset_password, "set a new password and unlock the account"),
    ):
        sub = command(name, run, help)
        sub.add_argument("username")
        sub.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    sub = command("import", import_file, "import a Netscape bookmark file (any browser)")
    sub.add_argument("file", help="the exported bookmarks .html file")
    sub.add_argument("--user", required=True, help="the account that receives the bookmarks")
    sub.add_argument("--dry-run", action="store_true", help="report, change nothing")
    sub = command("export", export, "write a user's bookmarks (browser file or JSON)")
    sub.add_argument("--user", required=True, help="whose bookmarks")
    sub.add_argument("--format", choices=("html", "json"), default="html", help="default: html")
    sub.add_argument("--output", "-o", default="-", help="a file (default: stdout)")
    sub = command("healthcheck", healthcheck, "probe the local web server's /healthz")
    sub.add_argument("--url", default=HEALTH_URL, help=f"default: {HEALTH_URL}")
    sub.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ConfigError, CommandError) as error:
        print(f"driftwood: {error}", file=sys.stderr)
        return 2
