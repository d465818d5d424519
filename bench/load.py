"""Bench: Driftwood's throughput and latency under load, through nginx and straight to
gunicorn, and the gunicorn worker/thread settings that give the most on this host.

The production stack (compose.yaml + compose.prod.yaml, plus bench/compose.direct.yaml to
publish gunicorn's port on loopback for the comparison) is seeded through nginx with one
user and BOOKMARKS bookmarks. Then wrk, in its own process (ops/load.py), loads each kind
of request for SECONDS at each concurrency in CLIENTS:
  - list: the first page of the bookmark list; search: a word and a tag;
  - add: saving a new bookmark through the form (a write, a commit per request);
through nginx (HTTPS, as users reach it) and directly (plain HTTP to gunicorn): the
difference is the proxy's cost, TLS included. The saturation point is the concurrency past
which throughput grows by less than 10 % while latency keeps rising.
With --tune it also measures the list and add at TUNE_CLIENTS clients for each gunicorn
setting in TUNINGS (the app container is recreated for each).

Run: .venv/bin/python bench/load.py [--seconds 10] [--tune]
     (writes bench/results/load.json and bench/results/load.md)
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops import load  # noqa: E402
from ops.stack import Stack, down, prepare, up  # noqa: E402
from ops.webclient import import_bookmarks, netscape_file, sign_up  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PROJECT = "driftwood-bench-load"
BOOKMARKS = 2000
CLIENTS = (1, 10, 50)
PAGES = {"list": "", "search": "?q=containers+%23docker"}
TUNE_CLIENTS = 10
# (workers, threads): the default on a 1-CPU limit is 2 x 4 (gunicorn_conf.py).
TUNINGS = ((1, 8), (2, 4), (3, 4), (4, 2), (2, 8))
PASSWORD = "bench-password-123"  # noqa: S105 (a throwaway account in a throwaway stack)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_stack(ports: dict[str, int], gunicorn_args: str = "") -> Stack:
    return Stack(
        ROOT,
        prod=True,
        project=PROJECT,
        layers=("compose.prod.yaml", "bench/compose.direct.yaml"),
        overrides=(
            ("DRIFTWOOD_HTTP_PORT", str(ports["http"])),
            ("DRIFTWOOD_HTTPS_PORT", str(ports["https"])),
            ("DRIFTWOOD_APP_PORT", str(ports["app"])),
            ("DRIFTWOOD_TAG", "bench-load"),
            ("DRIFTWOOD_SIGNUP_ENABLED", "true"),
            ("BENCH_GUNICORN_ARGS", gunicorn_args),
        ),
    )


def measure(target: str, cookie: str, token: str, clients: int, kind: str, seconds: int) -> Any:
    url = target + PAGES.get(kind, "")
    figures = load.run(
        url, cookie=cookie, connections=clients, seconds=seconds,
        csrf_token=token if kind == "add" else None,
    )  # fmt: skip
    print(f"  {kind:<6} {clients:>3} clients: {figures}", flush=True)
    return dataclasses.asdict(figures)


def saturation(rows: dict[str, Any]) -> int:
    """The concurrency past which throughput grows by less than 10 %."""
    levels = sorted(int(c) for c in rows)
    for lower, higher in itertools.pairwise(levels):
        if rows[str(higher)]["rps"] < rows[str(lower)]["rps"] * 1.1:
            return lower
    return levels[-1]


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Host load average (1 min) {results['host_load_average_before']:.1f} before, "
        f"{results['host_load_average_after']:.1f} after; {results['seconds']} s per row.",
        "",
        "| request | clients | via | req/s | p50 ms | p95 ms | p99 ms | error rate |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for kind, by_target in results["load"].items():
        for clients in CLIENTS:
            for target, rows in by_target.items():
                r = rows[str(clients)]
                lines.append(
                    f"| {kind} | {clients} | {target} | {r['rps']} | {r['p50_ms']} | "
                    f"{r['p95_ms']} | {r['p99_ms']} | {r['error_rate']:.2%} |"
                )
    lines += ["", "| request | proxy's throughput cost at 10 clients | saturation (clients) |",
              "|---|---:|---:|"]  # fmt: skip
    for kind in results["load"]:
        lines.append(
            f"| {kind} | {results['proxy_cost'][kind]:.1%} | {results['saturation'][kind]} |"
        )
    if results.get("tuning"):
        lines += [
            "",
            f"| workers x threads ({TUNE_CLIENTS} clients, via nginx) | list req/s | "
            "list p99 ms | add req/s | add p99 ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for setting, rows in results["tuning"].items():
            lines.append(
                f"| {setting} | {rows['list']['rps']} | {rows['list']['p99_ms']} | "
                f"{rows['add']['rps']} | {rows['add']['p99_ms']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement (default 10)")
    parser.add_argument("--tune", action="store_true", help="also compare gunicorn settings")
    options = parser.parse_args()
    docker = DockerClient()
    ports = {"http": free_port(), "https": free_port(), "app": free_port()}
    stack = bench_stack(ports)
    prepare(stack, docker)
    targets = {
        "nginx": f"https://127.0.0.1:{ports['https']}/",
        "direct": f"http://127.0.0.1:{ports['app']}/",
    }
    # The host's own load says how far to trust the figures (a shared CI machine is noisy).
    results: dict[str, Any] = {
        "seconds": options.seconds,
        "bookmarks": BOOKMARKS,
        "host_load_average_before": os.getloadavg()[0],
        "load": {},
    }
    try:
        up(stack)
        browser = sign_up(targets["nginx"], "bench", PASSWORD)
        import_bookmarks(browser, netscape_file(BOOKMARKS))
        token = browser.token("bookmarks/new")  # first: the page may renew the session cookie
        cookie = browser.cookie_header()
        for kind in (*PAGES, "add"):
            results["load"][kind] = {
                target: {
                    str(c): measure(base, cookie, token, c, kind, options.seconds) for c in CLIENTS
                }
                for target, base in targets.items()
            }
        results["proxy_cost"] = {
            kind: 1 - rows["nginx"]["10"]["rps"] / rows["direct"]["10"]["rps"]
            for kind, rows in results["load"].items()
        }
        results["saturation"] = {k: saturation(r["nginx"]) for k, r in results["load"].items()}
        if options.tune:
            results["tuning"] = tune(docker, ports, targets["nginx"], cookie, token, options)
    finally:
        down(stack, volumes=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results["host_load_average_after"] = os.getloadavg()[0]
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (RESULTS / "load.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "load.md").write_text(table)
    print(table)


def tune(
    docker: DockerClient, ports: dict[str, int], base: str, cookie: str, token: str,
    options: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    """List and add at TUNE_CLIENTS clients for each (workers, threads) in TUNINGS."""
    tuning = {}
    for workers, threads in TUNINGS:
        stack = bench_stack(ports, f"--workers={workers} --threads={threads}")
        prepare(stack, docker)
        up(stack, build=False)  # recreates the app with the new setting
        # nginx resolved the app's address at start; the new container may have another.
        docker.container.kill(stack.client().compose.ps(["nginx"])[0], signal="SIGHUP")
        time.sleep(1)
        tuning[f"{workers} x {threads}"] = {
            kind: measure(base, cookie, token, TUNE_CLIENTS, kind, options.seconds)
            for kind in ("list", "add")
        }
    return tuning


if __name__ == "__main__":
    main()
