"""invoke diagnose names the cause from the state and the engine's events (no engine here)."""

from ops.diagnose import Diagnosis, render


def diagnosis(**changes: object) -> Diagnosis:
    fields: dict[str, object] = {
        "container": "driftwood-app-1",
        "service": "app",
        "status": "running",
        "health": "healthy",
        "exit_code": 0,
        "restarts": 0,
        "oom_killed": False,
        "memory_limit_mb": 512.0,
        "ooms": 0,
    }
    return Diagnosis(**(fields | changes))  # type: ignore[arg-type]


def test_a_healthy_container_is_running_normally() -> None:
    assert diagnosis().cause == "running normally"


def test_an_oom_kill_is_named_after_the_restart_cleared_the_flag() -> None:
    restarted = diagnosis(restarts=1, ooms=2, deaths={137: 1})
    assert restarted.cause.startswith("out of memory: the kernel killed it 2 time(s)")
    assert "512 MB" in restarted.cause


def test_the_engine_flag_alone_is_enough() -> None:
    assert diagnosis(status="exited", exit_code=137, oom_killed=True).cause.startswith(
        "out of memory"
    )


def test_a_sigkill_without_oom_is_not_called_out_of_memory() -> None:
    assert diagnosis(deaths={137: 1}, restarts=1).cause.startswith("killed by SIGKILL")


def test_a_crash_loop_names_its_exit_code() -> None:
    looping = diagnosis(status="restarting", deaths={3: 4, 143: 1}, restarts=4)
    assert looping.cause == "crashed with exit code 3 (4 time(s)): read the log lines below"


def test_stops_and_finished_jobs_are_not_crashes() -> None:
    assert diagnosis(deaths={143: 2}).cause == "running normally"
    job = diagnosis(status="exited", health="-", deaths={0: 1})
    assert job.cause == "finished its job (exit 0)"


def test_the_report_shows_the_figures_and_the_log() -> None:
    text = render(diagnosis(ooms=1, restarts=1, deaths={137: 1}, logs=["Booting worker"]))
    assert "restarts 1, OOMKilled false, OOM kills in the last hour 1" in text
    assert "exits in the last hour: 137 x1" in text
    assert text.endswith("  | Booting worker")
