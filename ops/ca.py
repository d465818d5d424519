"""The host's CA bundle, handed to builds as the BuildKit secret `ca`.

Behind a TLS-intercepting proxy (corporate networks, our CI) downloads inside a build fail
with CERTIFICATE_VERIFY_FAILED: the proxy's CA is trusted by the host, not by the image.
Builds pass the host bundle as `--secret id=ca,src=<bundle>`; only the `RUN` steps that
download mount it (`--mount=type=secret,id=ca,required=false`, then e.g.
`PIP_CERT=/run/secrets/ca`), so it never lands in a layer.
"""

from __future__ import annotations

import os
from pathlib import Path

SECRET_ID = "ca"  # noqa: S105 (the secret's name, not its value)
# Where common systems keep the bundle of every CA they trust.
CANDIDATES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),  # Debian, Ubuntu, Alpine
    Path("/etc/pki/tls/certs/ca-bundle.crt"),  # Fedora, RHEL
    Path("/etc/ssl/cert.pem"),  # macOS, BSDs
)


def host_ca_bundle() -> Path | None:
    """The host's CA bundle (SSL_CERT_FILE first, as OpenSSL does), or None if it has none."""
    override = os.environ.get("SSL_CERT_FILE")
    candidates = (Path(override), *CANDIDATES) if override else CANDIDATES
    for path in candidates:
        if path.is_file() and path.stat().st_size > 0:
            return path
    return None


def build_secrets() -> list[str]:
    """`secrets=` for python-on-whales' buildx.build: the CA when the host has one."""
    bundle = host_ca_bundle()
    return [f"id={SECRET_ID},src={bundle}"] if bundle else []
