"""wrk, the HTTP load generator, driven from Python: requests per second and latency
percentiles for one kind of request (a page, or adding bookmarks) at a given concurrency.

wrk runs in its own process (a C event loop: the load generator must not be the bottleneck
it measures) and reports through a Lua `done` hook, which prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("JSON {\\"requests\\": %d, \\"seconds\\": %f, \\"errors\\": %d, "
    .. "\\"non2xx\\": %d, \\"p50_ms\\": %f, \\"p95_ms\\": %f, \\"p99_ms\\": %f}\\n",
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""

# Adding bookmarks: a form POST with the session's CSRF token; every request saves a new
# URL (run id, wrk thread, counter), so none is refused as a duplicate.
ADD = """
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function request()
  counter = (counter or 0) + 1
  local body = string.format("csrf_token=%s&url=https%%3A%%2F%%2Fexample.org%%2Fwrk%%2F%s-%d-%d",
    TOKEN, RUN, id, counter)
  -- Headers added to wrk.headers: a table passed to wrk.format would replace them, and
  -- with them the session cookie given on the command line.
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", "/bookmarks/new", nil, body)
end
"""


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int  # no answer (connect, read, write, timeout) plus statuses >= 400
    error_rate: float


def run(
    url: str,
    *,
    cookie: str,
    connections: int,
    seconds: int,
    csrf_token: str | None = None,
) -> Figures:
    """Load `url` for `seconds` with `connections` concurrent clients; with a `csrf_token`,
    each request adds a bookmark instead of reading `url`."""
    script = REPORT
    if csrf_token is not None:
        script += ADD.replace("TOKEN", json.dumps(csrf_token)).replace(
            "RUN", json.dumps(uuid.uuid4().hex[:8])
        )
    with tempfile.TemporaryDirectory(prefix="driftwood-wrk-") as folder:
        lua = Path(folder) / "report.lua"
        lua.write_text(script, encoding="utf-8")
        output = subprocess.run(
            ["wrk", f"--threads={min(2, connections)}", f"--connections={connections}",
             f"--duration={seconds}s", "--timeout=10s", "--latency", "--script", str(lua),
             "--header", f"Cookie: {cookie}", url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    if "JSON " not in output:
        raise RuntimeError(f"wrk printed no summary for {url}:\n{output[-500:]}")
    result = json.loads(output.split("JSON ", 1)[1].splitlines()[0])
    errors = result["errors"] + result["non2xx"]
    return Figures(
        rps=round(result["requests"] / result["seconds"], 1),
        p50_ms=round(result["p50_ms"], 1),
        p95_ms=round(result["p95_ms"], 1),
        p99_ms=round(result["p99_ms"], 1),
        requests=result["requests"],
        errors=errors,
        error_rate=round(errors / max(1, result["requests"]), 4),
    )
