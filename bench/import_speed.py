"""How long importing a 10,000-entry bookmark file takes (target: under 10 s).

Builds a realistic browser export (nested folders, TAGS, descriptions, a few duplicates
and unusable entries), then times parsing, the dry run, the real import and a second
import of the same file (all duplicates) against a real PostgreSQL: the one named by
DRIFTWOOD_BENCH_DATABASE_URL (a throwaway database!), otherwise a temporary server started
from the host's PostgreSQL binaries, as the integration tests do.

    .venv/bin/python -m bench.import_speed [--entries 10000]   (from the repository root)
"""

import argparse
import json
import os
import random
import time

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench.app_queries import database
from driftwood import db
from driftwood.accounts import create_user
from driftwood.importer import import_bookmarks
from driftwood.netscape import parse

WORDS = ["docker", "python", "flask", "postgres", "nginx", "linux", "cooking", "travel", "music"]


def bookmark_file(entries: int, seed: int = 42) -> bytes:
    """A Firefox-style export: folders three deep, 1% repeated URLs, 0.5% unusable links."""
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    lines = [
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>",
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">',
        "<TITLE>Bookmarks</TITLE><H1>Bookmarks Menu</H1>",
        "<DL><p>",
    ]
    for n in range(entries):
        if n % 250 == 0:  # a new folder chain every 250 entries
            if n:
                lines += ["</DL><p>"] * 3
            for depth in range(3):
                lines.append(f'<DT><H3 ADD_DATE="1600000000">{rng.choice(WORDS)} {n}-{depth}</H3>')
                lines.append("<DL><p>")
        page = rng.randrange(entries) if n % 100 == 99 else n  # ~1% duplicates
        scheme = "javascript" if n % 200 == 199 else "https"
        tags = ",".join(rng.sample(WORDS, rng.randint(0, 3)))
        title = " ".join(rng.choices(WORDS, k=6)).title()
        lines.append(
            f'<DT><A HREF="{scheme}://site{page % 1500}.example/articles/{page}?ref=rss"'
            f' ADD_DATE="{1500000000 + n * 60}" TAGS="{tags}">{title} &amp; more</A>'
        )
        if n % 3 == 0:
            lines.append(f"<DD>{' '.join(rng.choices(WORDS, k=25))}")
    lines += ["</DL><p>"] * 4
    return "\n".join(lines).encode()


def timed(results: dict[str, dict[str, float]], name: str, action):  # type: ignore[no-untyped-def]
    """Run `action`, noting wall time and this process's CPU time (the database server's
    work shows in the wall time only; on a busy machine the two differ a lot)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    results[name] = {
        "wall": round(time.perf_counter() - wall, 3),
        "cpu": round(time.process_time() - cpu, 3),
    }
    return value


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--entries", type=int, default=10_000, help="bookmarks in the file")
    entries = options.parse_args().entries
    data = bookmark_file(entries)
    seconds: dict[str, dict[str, float]] = {}
    with database() as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            db.upgrade_schema(connection)
        with Session(engine) as session:
            user = create_user(session, f"bench{time.time_ns()}", "correct horse battery")
            session.commit()
            parsed = timed(seconds, "parse", lambda: parse(data))
            dry = timed(
                seconds, "dry_run", lambda: import_bookmarks(session, user, parsed, dry_run=True)
            )

            def import_and_commit():  # type: ignore[no-untyped-def]
                report = import_bookmarks(session, user, parsed, dry_run=False)
                session.commit()
                return report

            report = timed(seconds, "import", import_and_commit)
            again = timed(seconds, "reimport", import_and_commit)
        engine.dispose()
    total = round(seconds["parse"]["wall"] + seconds["import"]["wall"], 3)
    print(
        json.dumps(
            {
                "entries": entries,
                "file_bytes": len(data),
                "seconds": seconds,
                "dry_run": dry.summary(),
                "import": report.summary(),
                "reimport": again.summary(),
                "parse_and_import_wall": total,
                "target_met": total < 10,
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
