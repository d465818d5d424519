"""Chapter 03, Running containers: the app in a stock Python container, by hand.

The lesson: what `docker run` options do, measured. The app is found by name on a
user-defined network; its limits and restart policy are the ones asked for; the PID 1 trap
(shell form killed after the stop timeout, exit 137; exec form stops cleanly at once); and
restart policies (a crash is restarted, a clean exit is not).
"""

from __future__ import annotations

from python_on_whales import Container

from ops import lifecycle
from ops.baseimages import resolve_refs
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.byhand import GUNICORN, ByHand
from ops.lessons.probes import container, http_status

STAGE = ByHand()
STOP_TIMEOUT = 10  # seconds `docker stop` waits before SIGKILL: Docker's default

LESSON = Lesson(
    chapter=3,
    title="Running containers",
    up=lambda ctx: STAGE.up(
        ctx, *(resolve_refs(ctx.docker)[v] for v in ("PYTHON_IMAGE", "POSTGRES_IMAGE"))
    ),
    down=STAGE.down,
)


def _python_image(ctx: LessonContext) -> str:
    return ctx.once("python", lambda: resolve_refs(ctx.docker)["PYTHON_IMAGE"])


@LESSON.claim(
    "The app runs in the stock Python image, nothing built, and answers /readyz with 200.",
    hint=f"`docker logs {STAGE.app}`; invoke stage.up 3 installs the dependencies first",
)
def app_in_stock_image(ctx: LessonContext) -> Result:
    app = container(ctx.docker, STAGE.app)
    stock = ctx.docker.image.inspect(_python_image(ctx)).id == app.image
    status = http_status(STAGE.url + "readyz")
    return Result.expect(
        stock and status == 200, f"{STAGE.app} from {app.config.image}: /readyz {status}"
    )


@LESSON.claim(
    "On the user-defined network, Docker's DNS resolves the database's name `db` to its address.",
    hint=f"`docker network inspect {STAGE.network}`; `docker exec {STAGE.app} getent hosts db`",
)
def name_resolution(ctx: LessonContext) -> Result:
    resolved = ctx.docker.execute(STAGE.app, ["getent", "hosts", "db"]).split()
    db = container(ctx.docker, STAGE.db)
    address = db.network_settings.networks[STAGE.network].ip_address
    return Result.expect(
        bool(resolved) and resolved[0] == address,
        f"db -> {resolved[0] if resolved else 'nothing'}; {STAGE.db} is {address}",
    )


@LESSON.claim(
    f"The app container has the environment, limits and restart policy it was run with: "
    f"{STAGE.memory // 2**20} MiB, {STAGE.cpus:g} CPU, {STAGE.pids} PIDs, on-failure.",
    hint=f"`docker inspect {STAGE.app}`: .HostConfig (Memory, NanoCpus, PidsLimit, "
    "RestartPolicy) and .Config.Env",
)
def run_options(ctx: LessonContext) -> Result:
    app = container(ctx.docker, STAGE.app)
    host = app.host_config
    env = {e.split("=", 1)[0] for e in app.config.env or ()}
    observed = (
        host.memory,
        (host.nano_cpus or 0) / 1e9,
        host.pids_limit,
        host.restart_policy.name,
        "DRIFTWOOD_DATABASE_URL" in env,
    )
    return Result.expect(
        observed == (STAGE.memory, STAGE.cpus, STAGE.pids, "on-failure", True),
        f"memory {observed[0] / 2**20:g} MiB, cpus {observed[1]:g}, pids {observed[2]}, "
        f"restart {observed[3]}, DATABASE_URL set {observed[4]}",
    )


def _serving(c: Container) -> bool:
    """gunicorn has booted a worker (it logs it): the app is up, the stop can be timed."""
    return "Booting worker" in c.logs()


def _stop(ctx: LessonContext, form: str) -> lifecycle.Stop:
    command = GUNICORN if form == "exec" else ["sh", "-c", " ".join(GUNICORN)]
    return ctx.once(
        f"stop-{form}",
        lambda: lifecycle.timed_stop(
            ctx.docker,
            f"{STAGE.prefix}-{form}-form",
            form,
            _python_image(ctx),
            command,
            _serving,
            STOP_TIMEOUT,
            **STAGE.app_run_options(ctx.root),
        ),
    )


@LESSON.claim(
    f"Shell form: `sh -c 'gunicorn ...'` makes sh PID 1, which ignores SIGTERM: `docker stop` "
    f"waits the {STOP_TIMEOUT} s timeout, then SIGKILL (exit 137).",
    hint="`docker top CONTAINER` shows who is PID 1; CMD/ENTRYPOINT as a JSON list (exec form)",
)
def shell_form_is_killed(ctx: LessonContext) -> Result:
    stop = _stop(ctx, "shell")
    return Result.expect(
        stop.exit_code == 137 and stop.seconds >= STOP_TIMEOUT,
        f"PID 1 `{stop.pid1[:40]}`: exit {stop.exit_code} after {stop.seconds:.2f} s",
        shell_form_stop_s=stop.seconds,
        shell_form_exit=stop.exit_code,
    )


@LESSON.claim(
    "Exec form: gunicorn is PID 1, gets SIGTERM itself, drains and exits cleanly (exit 0) "
    "before the stop timeout.",
    hint="gunicorn's graceful_timeout (driftwood/gunicorn_conf.py); `docker logs` of the stop "
    "should say `Handling signal: term`",
)
def exec_form_stops_cleanly(ctx: LessonContext) -> Result:
    stop = _stop(ctx, "exec")
    signalled = "Handling signal: term" in stop.log
    return Result.expect(
        "gunicorn" in stop.pid1
        and signalled
        and stop.exit_code == 0
        and stop.seconds < STOP_TIMEOUT,
        f"PID 1 `{stop.pid1[:40]}`: got SIGTERM {signalled}, exit {stop.exit_code} after "
        f"{stop.seconds:.2f} s",
        exec_form_stop_s=stop.seconds,
        exec_form_exit=stop.exit_code,
    )


@LESSON.claim(
    "With --restart on-failure, a crash (exit 3) is restarted and a clean exit (0) is not.",
    hint="`docker inspect -f '{{.RestartCount}} {{.State.Status}}' CONTAINER`; restart policies",
)
def restart_policy(ctx: LessonContext) -> Result:
    image = _python_image(ctx)
    crash = lifecycle.restart_behaviour(ctx.docker, image, f"{STAGE.prefix}-crash", 3)
    clean = lifecycle.restart_behaviour(ctx.docker, image, f"{STAGE.prefix}-clean", 0)
    return Result.expect(
        crash.restart_count >= 1 and clean.restart_count == 0 and clean.status == "exited",
        f"exit 3: {crash.restart_count} restarts in 4 s ({crash.status}); "
        f"exit 0: {clean.restart_count} restarts ({clean.status})",
        crash_restarts=crash.restart_count,
        clean_restarts=clean.restart_count,
    )
