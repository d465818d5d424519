"""Replace the running app with a new image without turning users away (one host, compose).

`docker compose up` would stop the old app container, then start the new one: every
request in between gets nginx's 503 page, for as long as the new one takes to boot. Instead:
  1. start a container of the new configuration beside the old one (`--scale app=2
     --no-recreate`) and wait until its healthcheck passes;
  2. wait until nginx sends it requests: nginx asks Docker's DNS for `app` every 5 s, and
     a container it tried while gunicorn was still booting (refused) is set aside for
     10 s (deploy/nginx/driftwood/http.conf);
  3. stop the old container: its gunicorn refuses new connections at once
     (driftwood/gunicorn_worker.py), which nginx retries on the new container whatever the
     method, since nothing was sent, and sets the old one aside; requests it has and those
     on its kept-alive connections are finished (graceful_timeout);
  4. remove it; nginx forgets its address at its next DNS answer.
No nginx reload: with `resolve`, a reload carries the addresses it knew over to the new
workers instead of asking again. Measured: six deploys under load (about 2,100 reads and
adds each, tests/docker/traffic.py) failed no request; with the reloads, gunicorn's stock
worker and no settle time, five of six failed 1 to 7 (connections reset while the old one
drained, and retries cut short by nginx's address change).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ops.stack import WAIT_TIMEOUT, Stack, StackError, unhealthy

SERVICE, PROXY = "app", "nginx"
# Longer than gunicorn's graceful_timeout (3 s, app/driftwood/gunicorn_conf.py).
STOP_TIMEOUT = 10
# nginx's fail_timeout (10 s) and resolver validity (5 s) in deploy/nginx/driftwood/http.conf,
# plus a second: by then nginx knows the new container and no longer holds its boot against it.
NGINX_SETTLE_S = 11


def replace_app(stack: Stack, show: Callable[[str], None] = print) -> None:
    """Roll the app service over to the stack's current configuration (image tag, settings)."""
    client = stack.client()
    old = client.compose.ps([SERVICE])
    proxy = client.compose.ps([PROXY])
    if not old or not proxy:
        raise StackError("the stack is not running: start it with `invoke up` first")
    show(f"starting a new {SERVICE} container beside {', '.join(c.name for c in old)}")
    client.compose.up(
        [SERVICE], detach=True, dependencies=False, recreate=False,
        scales={SERVICE: len(old) + 1}, wait=True, wait_timeout=WAIT_TIMEOUT, quiet=True,
    )  # fmt: skip
    new = [c for c in client.compose.ps([SERVICE]) if c.id not in {o.id for o in old}]
    problems = unhealthy(new)
    if not new or problems:
        raise StackError("the new app container is not healthy: " + "; ".join(problems))
    show(f"waiting {NGINX_SETTLE_S} s for nginx to send requests to {new[0].name} too")
    time.sleep(NGINX_SETTLE_S)
    show(f"stopping {', '.join(c.name for c in old)}")
    client.container.stop(old, time=STOP_TIMEOUT)
    client.container.remove(old)
    show(f"{SERVICE} now runs {new[0].config.image} in {', '.join(c.name for c in new)}")
