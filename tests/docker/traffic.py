"""Traffic for the stress tests: signed-in users reading and adding bookmarks through nginx
in threads, every request recorded (status, time), while a test breaks something.

A status of None means no HTTP answer at all (connection refused, reset, or no answer
within the timeout): the failures a proxy must turn into a clear error page.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ops.webclient import Browser

# Longer than any wait nginx may impose (proxy_connect_timeout 2 s, a retry, the app's
# database connect timeout 5 s): a request still open after this counts as a hang.
TIMEOUT = 15.0
PAGES = ["", "?q=reading", "?q=%23docker"]  # the list, a word search, a tag search


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A POST's own status (302 once saved), not that of the page it redirects to."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class Outcome:
    kind: str  # "read" or "add"
    started: float  # time.monotonic()
    seconds: float
    status: int | None
    body: bytes = b""
    url: str = ""  # the bookmark an add tried to save


@dataclass
class Traffic:
    """`readers` and `writers` threads, each with one of `browsers`, until the block ends."""

    base: str
    browsers: list[Browser]
    readers: int = 3
    writers: int = 2
    tag: str = "load"
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: itertools.count = field(default_factory=itertools.count)

    def __enter__(self) -> Traffic:
        for number in range(self.readers + self.writers):
            browser = self.browsers[number % len(self.browsers)]
            target = self._read if number < self.readers else self._add
            thread = threading.Thread(target=self._loop, args=(target, browser), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT + 5)

    def _loop(self, target: Any, browser: Browser) -> None:
        handlers = [
            handler
            for handler in browser.opener.handlers  # type: ignore[attr-defined]
            if not isinstance(handler, urllib.request.HTTPRedirectHandler)
        ]
        opener = urllib.request.build_opener(*handlers, _NoRedirect())
        token = self._token(browser)
        for number in itertools.count():
            if self._stop.is_set():
                return
            target(opener, token, number)

    def _token(self, browser: Browser) -> str:
        """The session's CSRF token, waiting while the stack cannot serve the form."""
        deadline = time.monotonic() + 120
        while True:
            try:
                return browser.token("bookmarks/new")
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _request(self, kind: str, opener: Any, request: Any, url: str = "") -> None:
        started = time.monotonic()
        status: int | None
        try:
            try:
                with opener.open(request, timeout=TIMEOUT) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read()
        except (OSError, http.client.HTTPException) as error:
            # A dropped connection, also one cut in the middle of a response (IncompleteRead).
            status, body = None, f"{type(error).__name__}: {error}".encode()
        outcome = Outcome(kind, started, time.monotonic() - started, status, body[:2000], url)
        with self._lock:
            self.outcomes.append(outcome)

    def _read(self, opener: Any, _token: str, number: int) -> None:
        self._request("read", opener, self.base + PAGES[number % len(PAGES)])

    def _add(self, opener: Any, token: str, _number: int) -> None:
        url = f"https://example.org/{self.tag}/{next(self._counter)}"
        body = urllib.parse.urlencode({"csrf_token": token, "url": url, "title": url}).encode()
        request = urllib.request.Request(self.base + "bookmarks/new", data=body)  # noqa: S310
        self._request("add", opener, request, url)

    # ---- what happened ----------------------------------------------------------------

    def statuses(self, kind: str | None = None) -> Counter[int | None]:
        return Counter(o.status for o in self.outcomes if kind in (None, o.kind))

    def saved(self) -> set[str]:
        """Bookmarks whose add was acknowledged (302 to the list): they must exist."""
        return {o.url for o in self.outcomes if o.kind == "add" and o.status == 302}

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in {200, 302}]

    def slowest(self) -> float:
        return max((o.seconds for o in self.outcomes), default=0.0)

    def summary(self) -> dict[str, Any]:
        """The figures a report records."""
        return {
            "requests": len(self.outcomes),
            "statuses": {str(k): v for k, v in sorted(self.statuses().items(), key=str)},
            "errors": len(self.failed()),
            "adds_acknowledged": len(self.saved()),
            "slowest_s": round(self.slowest(), 2),
        }
