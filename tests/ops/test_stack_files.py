"""The compose files, Dockerfile and nginx config have the shape issue 4 asks for (no engine)."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.baseimages import load_lock
from ops.stack import Stack
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return load("compose.yaml")


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return load("compose.prod.yaml")


def test_only_nginx_publishes_a_port_and_on_loopback_by_default(base, prod):
    for layer in (base, prod):
        published = {name for name, svc in layer["services"].items() if "ports" in svc}
        assert published == {"nginx"}
        for port in layer["services"]["nginx"]["ports"]:
            assert port.startswith("${DRIFTWOOD_BIND:-127.0.0.1}:")


def test_networks_keep_the_database_away_from_nginx_and_the_host(base):
    backend = base["networks"]["backend"]
    assert backend["internal"] is True
    assert backend["driver_opts"] == {"com.docker.network.bridge.inhibit_ipv4": "true"}
    services = base["services"]
    assert services["nginx"]["networks"] == ["frontend"]
    assert set(services["app"]["networks"]) == {"frontend", "backend"}
    assert services["migrate"]["networks"] == ["backend"]
    assert services["db"]["networks"] == ["backend"]


def test_startup_order_is_by_state(base):
    services = base["services"]
    assert services["nginx"]["depends_on"] == {"app": {"condition": "service_healthy"}}
    assert services["app"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"]["command"] == ["driftwood", "migrate"]


def test_secrets_come_from_files_and_never_from_the_environment(base):
    assert base["secrets"]["db_password"] == {"file": "./secrets/db_password.txt"}
    assert base["secrets"]["secret_key"] == {"file": "./secrets/secret_key.txt"}
    for name, service in base["services"].items():
        environment = service.get("environment", {})
        for key in environment:
            assert "PASSWORD" not in key or key.endswith("_FILE"), (name, key)
            assert "SECRET_KEY" not in key or key.endswith("_FILE"), (name, key)
    url = base["x-app"]["environment"]["DRIFTWOOD_DATABASE_URL"]
    assert url == "postgresql+psycopg://driftwood@db:5432/driftwood"  # no password in it


def test_database_data_is_in_a_named_volume(base):
    assert "db-data:/var/lib/postgresql/data" in base["services"]["db"]["volumes"]
    assert "db-data" in base["volumes"]


def test_optional_tools_are_behind_profiles(base):
    assert base["services"]["psql"]["profiles"] == ["tools"]
    assert base["services"]["backup"]["profiles"] == ["backup"]


def test_production_hardens_every_long_running_service(base, prod):
    for name, service in prod["services"].items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "cap_add" not in service, name
        assert service["security_opt"] == ["no-new-privileges:true"], name
        assert service["logging"]["options"]["max-size"], name
        limits = service["deploy"]["resources"]["limits"]
        assert {"cpus", "memory", "pids"} <= limits.keys(), name
        assert not any("seccomp" in option for option in service["security_opt"]), name
    assert {"nginx", "app", "db"} <= {
        name for name, svc in prod["services"].items() if svc["restart"] == "unless-stopped"
    }
    assert prod["services"]["migrate"]["restart"] == "no"
    # Healthchecks: db in compose.yaml, app and nginx in their images.
    assert "healthcheck" in base["services"]["db"]
    assert "volumes" not in prod["services"]["app"]


def test_production_nginx_serves_tls_from_certificate_files(prod):
    nginx = prod["services"]["nginx"]
    assert "/etc/nginx/nginx-tls.conf" in nginx["command"]
    assert nginx["secrets"] == ["tls_cert", "tls_key"]
    site = (ROOT / "deploy/nginx/driftwood/site-https.conf").read_text()
    assert "return 308 https://" in site
    assert "ssl_certificate /run/secrets/tls_cert;" in site
    assert "Strict-Transport-Security" in (ROOT / "deploy/nginx/driftwood/headers.conf").read_text()


def test_dev_override_mounts_the_code_and_watches_the_lock():
    override = load("compose.override.yaml")
    app = override["services"]["app"]
    assert "--reload" in app["command"]
    assert app["volumes"][0]["target"].endswith("site-packages/driftwood")
    paths = {rule["path"]: rule["action"] for rule in app["develop"]["watch"]}
    assert paths["requirements/app.lock"] == "rebuild"


def test_env_example_has_no_secrets():
    text = (ROOT / ".env.example").read_text()
    assert not re.search(r"(PASSWORD|SECRET|KEY)\s*=", text)


def test_dockerfile_base_defaults_follow_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for image in load_lock().values():
        if image.variable not in {"DEBIAN_IMAGE", "NGINX_IMAGE"}:
            continue
        pinned = f"{image.ref}@{image.digest}" if image.digest else image.ref
        assert f"ARG {image.variable}={pinned}\n" in dockerfile
        assert re.search(rf"^FROM (--platform=\S+ )?\${{{image.variable}}} ", dockerfile, re.M)


def test_compose_base_defaults_follow_the_lock(base):
    postgres = load_lock()["postgres"]
    pinned = f"{postgres.ref}@{postgres.digest}" if postgres.digest else postgres.ref
    assert base["services"]["db"]["image"] == f"${{POSTGRES_IMAGE:-{pinned}}}"


def test_dockerfile_runtime_runs_as_a_fixed_non_root_uid_in_exec_form():
    dockerfile = (ROOT / "Dockerfile").read_text()
    final = dockerfile[dockerfile.rindex("FROM scratch AS app") :]
    assert "\nUSER 10001:10001\n" in final
    assert '\nCMD ["gunicorn", ' in final
    healthcheck = final[final.index("HEALTHCHECK") :].split("\n\n")[0]
    assert 'CMD ["python", "-c", ' in healthcheck and "/healthz" in healthcheck
    assert "curl" not in healthcheck and "wget" not in healthcheck
    assert "ENTRYPOINT" not in final or "ENTRYPOINT [" in final


def test_the_build_context_is_an_allow_list():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[[line.startswith("#") for line in lines].index(False)] == "*"
    assert "!secrets" not in lines


def test_hadolint_reports_nothing_on_the_dockerfile():
    hadolint = shutil.which("hadolint", path=str(ROOT / ".venv/bin"))
    require(hadolint is not None, "hadolint is not installed (pip install -e .[dev])")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")


@pytest.mark.parametrize("prod", [False, True], ids=["dev", "prod"])
def test_compose_config_is_valid(prod):
    require(shutil.which("docker") is not None, "the docker CLI with compose is not installed")
    config = Stack(ROOT, prod=prod).client().compose.config()
    assert set(config.services) >= {"nginx", "app", "migrate", "db"}
    assert (config.services["app"].volumes is not None) != prod  # dev mounts only in dev
