"""A one-file web server: enough for the scanner's good test image to run and be healthy."""

from http.server import BaseHTTPRequestHandler, HTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")


HTTPServer(("0.0.0.0", 8000), Hello).serve_forever()  # noqa: S104 (inside a container)
