"""Chapter 03's stage: the app in a stock Python container, run by hand with `docker run`.

Nothing is built. The app's dependencies go into a named volume once (a throwaway
container runs pip, with the host's CA bundle mounted read-only for TLS-intercepting
networks); the app's code is bind-mounted read-only from the stage's tree. Both containers
join a user-defined network, where Docker's embedded DNS resolves container names. This is
exactly the work a Dockerfile (chapter 04) bakes into an image.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import NoSuchNetwork

from ops.ca import host_ca_bundle
from ops.lessons import LessonContext
from ops.lessons.probes import (
    POSTGRES_DB,
    POSTGRES_USER,
    generated_secret,
    http_status,
    remove_container,
    wait_for,
    wait_postgres,
)

LOCK = Path("requirements/app.lock")
CA_IN_CONTAINER = "/run/secrets/ca.pem"
GUNICORN = [
    "/venv/bin/gunicorn",
    "--config",
    "python:driftwood.gunicorn_conf",
    "driftwood.wsgi:app",
]


@dataclass(frozen=True)
class ByHand:
    prefix: str = "driftwood-ch03"
    app_port: int = 8003
    memory: int = 256 * 2**20
    cpus: float = 1.0
    pids: int = 200

    @property
    def network(self) -> str:
        return f"{self.prefix}-net"

    @property
    def db(self) -> str:
        return f"{self.prefix}-db"

    @property
    def app(self) -> str:
        return f"{self.prefix}-app"

    @property
    def venv(self) -> str:
        return f"{self.prefix}-venv"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}/"

    def app_run_options(self, root: Path) -> dict[str, object]:
        """What every app container of this stage shares: network, code, deps, environment."""
        return {
            "networks": [self.network],
            "volumes": [(self.venv, "/venv", "ro"), (str(root / "app"), "/src/app", "ro")],
            "envs": {
                "PYTHONPATH": "/src/app",
                # `db` is the database container's alias on the user-defined network.
                "DRIFTWOOD_DATABASE_URL": f"postgresql+psycopg://{POSTGRES_USER}@db:5432/"
                f"{POSTGRES_DB}",
                "DRIFTWOOD_DATABASE_PASSWORD": generated_secret(root, "db-password"),
                "DRIFTWOOD_SECRET_KEY": generated_secret(root, "secret-key"),
                "WEB_CONCURRENCY": "2",
            },
        }

    def install_dependencies(self, docker: DockerClient, python_image: str, root: Path) -> None:
        """pip install the locked dependencies into the venv volume, once per lock file."""
        lock_hash = hashlib.sha256((root / LOCK).read_bytes()).hexdigest()[:16]
        marker = f"/venv/.installed-{lock_hash}"
        script = (
            f"test -e {marker} || {{ rm -rf /venv/* && python3 -m venv /venv && "
            f"/venv/bin/pip install --quiet --require-hashes --only-binary=:all: "
            f"-r /src/{LOCK} && touch {marker}; }}"
        )
        ca = host_ca_bundle()
        docker.run(
            python_image,
            ["sh", "-c", script],
            remove=True,
            volumes=[(self.venv, "/venv"), (str(root / LOCK), f"/src/{LOCK}", "ro")]
            + ([(str(ca), CA_IN_CONTAINER, "ro")] if ca else []),
            envs={"PIP_CERT": CA_IN_CONTAINER} if ca else {},
        )

    def up(self, ctx: LessonContext, python_image: str, postgres_image: str) -> str:
        self.down(ctx)
        docker = ctx.docker
        docker.network.create(self.network)
        docker.run(
            postgres_image,
            detach=True,
            name=self.db,
            networks=[self.network],
            network_aliases=["db"],
            envs={
                "POSTGRES_USER": POSTGRES_USER,
                "POSTGRES_DB": POSTGRES_DB,
                "POSTGRES_PASSWORD": generated_secret(ctx.root, "db-password"),
            },
            memory=self.memory,
            pids_limit=self.pids,
            restart="unless-stopped",
        )
        self.install_dependencies(docker, python_image, ctx.root)
        wait_postgres(docker, self.db)
        options = self.app_run_options(ctx.root)
        docker.run(
            python_image,
            ["/venv/bin/python", "-c", "from driftwood.cli import main; raise SystemExit(main())",
             "migrate"],
            remove=True,
            **options,  # type: ignore[arg-type]
        )  # fmt: skip
        docker.run(
            python_image,
            GUNICORN,  # exec form: gunicorn is PID 1 and receives SIGTERM itself
            detach=True,
            name=self.app,
            publish=[(f"127.0.0.1:{self.app_port}", 8000)],
            restart="on-failure:5",  # a crash is restarted (5 times at most); a clean exit is not
            memory=self.memory,
            cpus=self.cpus,
            pids_limit=self.pids,
            **options,  # type: ignore[arg-type]
        )
        wait_for("the app answering /readyz", lambda: http_status(self.url + "readyz") == 200)
        return f"the app: {self.url}; containers {self.app} and {self.db} on {self.network}"

    def down(self, ctx: LessonContext) -> str:
        for name in (self.app, self.db):
            remove_container(ctx.docker, name)
        with contextlib.suppress(NoSuchNetwork):
            ctx.docker.network.remove(self.network)
        return (
            f"removed {self.app}, {self.db} and {self.network} (the venv volume {self.venv} stays)"
        )
