"""Driftwood spoken to like a browser, from the host: cookies, the CSRF token of each form,
sign-up and a bookmark import. Used by the benches and the stress tests to seed a running
stack through nginx, exactly as a user would fill it.
"""

from __future__ import annotations

import http.cookiejar
import re
import ssl
import urllib.parse
import urllib.request
import uuid

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """Just enough of a browser: cookies and the CSRF token of each form."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        # The production stack answers with a self-signed certificate.
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar),
            urllib.request.HTTPSHandler(context=unverified),
        )

    def token(self, path: str) -> str:
        page = self.opener.open(self.base + path, timeout=30).read().decode()
        match = CSRF_FIELD.search(page)
        if match is None:
            raise LookupError(f"no CSRF token on {path}: is this Driftwood's form page?")
        return match[1]

    def post(self, path: str, body: bytes, content_type: str) -> None:
        request = urllib.request.Request(  # noqa: S310 (loopback http(s) only)
            self.base + path, data=body, headers={"Content-Type": content_type}
        )
        self.opener.open(request, timeout=120).read()

    def form(self, path: str, fields: dict[str, str]) -> None:
        fields = {"csrf_token": self.token(path), **fields}
        self.post(
            path, urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
        )

    def upload(self, path: str, fields: dict[str, str], name: str, content: bytes) -> None:
        fields = {"csrf_token": self.token(path), **fields}
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
            .encode() for key, value in fields.items()
        ]  # fmt: skip
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="bookmarks.html"\r\nContent-Type: text/html\r\n\r\n'.encode()
            + content + f"\r\n--{boundary}--\r\n".encode()
        )  # fmt: skip
        self.post(path, b"".join(parts), f"multipart/form-data; boundary={boundary}")

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def netscape_file(count: int, tag: str = "bench", start: int = 0) -> bytes:
    """A browser's bookmark file with `count` bookmarks, every one tagged `tag`."""
    rows = [
        f'<DT><A HREF="https://example.org/{tag}/{i}" ADD_DATE="{1700000000 + i}" '
        f'TAGS="{tag},{"python" if i % 3 else "docker"}">Bookmark {i} about '
        f"{'containers' if i % 5 == 0 else 'reading'}</A>"
        for i in range(start, start + count)
    ]
    head = "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<TITLE>Bookmarks</TITLE>\n<DL><p>\n"
    return (head + "\n".join(rows) + "\n</DL><p>\n").encode()


def sign_up(base: str, username: str, password: str) -> Browser:
    """A new account, signed in: the returned browser holds its session."""
    browser = Browser(base)
    browser.form(
        "signup", {"username": username, "password": password, "password_confirm": password}
    )
    return browser


def import_bookmarks(browser: Browser, content: bytes) -> None:
    browser.upload("import", {"action": "import"}, "file", content)
