"""One clear message, with the fix, for the ways talking to Docker fails."""

from __future__ import annotations

from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException

from ops import registry

NO_ENGINE = (
    "No Docker engine answers. Run `invoke setup` (as root on Debian), or start Docker"
    " Desktop / the docker service, then `invoke doctor`."
)
NO_CLIENT = (
    "The `docker` command is not installed. Run `invoke setup` (Debian), or install Docker:"
    " https://docs.docker.com/engine/install/"
)

# Substrings of the CLI's stderr -> what is wrong and what fixes it.
_KNOWN = (
    (("Cannot connect to the Docker daemon", "Is the docker daemon running"), NO_ENGINE),
    (
        (f"{registry.ADDRESS}: connect: connection refused", "127.0.0.1:5000/v2/"),
        f"The local registry on {registry.ADDRESS} does not answer. Run `invoke setup`.",
    ),
    (
        ("no such host", "i/o timeout", "TLS handshake timeout", "pull access denied"),
        "An image could not be pulled (no registry reachable?). `invoke setup` builds"
        " offline stand-ins for the base images; other images must be built first.",
    ),
    (
        ("client version", "is too new. Maximum supported API version"),
        "The Docker engine is older than the client. Driftwood needs Engine 26 or newer:"
        " run `invoke setup` or upgrade Docker.",
    ),
)


def explain(error: Exception) -> str:
    """Turn a python-on-whales error into one line naming the cause and the fix."""
    if isinstance(error, ClientNotFoundError):
        return NO_CLIENT
    if isinstance(error, DockerException):
        stderr = error.stderr or ""
        for needles, message in _KNOWN:
            if any(needle in stderr for needle in needles):
                return message
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {error.return_code}"
        command = " ".join(error.docker_command[1:3])
        return f"`docker {command}` failed: {detail}"
    return str(error)
