"""The small profile's one task, started the way its ECS task starts it: deploy/small-task.sh (the
code server, the webserver and the daemon with their production commands, on loopback) over
deploy/dagster-small.yaml, on the machine's Debian PostgreSQL (postgres_server.py), the code
location in the local mode. Through it, as an operator and the daemon would: a partition run launched
at the webserver's GraphQL endpoint (queued, dequeued by the daemon, run by the code server), a tick
of new_data_sensor that requests a run for a day that got a late record, and that run; then the task
ends as a whole when one of its processes dies. The script runs in its own session and is always
killed. It prints the memory the task's processes hold and the database's size and connections,
which docs/operations/deploying.md sizes the profile by."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import yaml
from dagster_graphql import DagsterGraphQLClient

from health_pipeline.demo import generate_records
from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.support import deliver as send
from health_pipeline_tests.support import free_loopback_port
from health_pipeline_tests.support.postgres_server import postgres_server

DEPLOY = PROJECT_ROOT / "deploy"
SCRIPT = DEPLOY / "small-task.sh"
TOKYO = ZoneInfo("Asia/Tokyo")
DAYS = [date(2026, 11, 10) + timedelta(days=n) for n in range(3)]
SERVING_WITHIN_S = 120
# new_data_sensor's minimum interval is 60 s: its second tick comes a minute after the first.
SECOND_TICK_WITHIN_S = 150
IDLE_SAMPLE_S = 60


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


def query(server, sql: str, *params) -> list[tuple]:
    with psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname=server.database) as connection:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


class ConnectionSampler(threading.Thread):
    """The most connections the task holds at once to the database, sampled every 0.2 s."""

    def __init__(self, server) -> None:
        super().__init__(daemon=True)
        self.server, self.peak, self.running = server, 0, True

    def run(self) -> None:
        connection = psycopg2.connect(
            host=self.server.host, port=self.server.port, user=self.server.user, dbname="postgres"
        )
        connection.autocommit = True
        with connection.cursor() as cursor:
            while self.running:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.server.database,),
                )
                self.peak = max(self.peak, cursor.fetchone()[0])
                time.sleep(0.2)
        connection.close()


def session_cpu_s(session: int) -> float:
    """CPU time (user and system) the processes of the task's session and their ended children have
    used so far (an ended process's time moves into its parent's cutime and cstime)."""
    ticks = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:
                ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime: fields 14-17
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def session_rss_mb(session: int) -> float:
    """Resident memory of every process in the task's session (the script and all it started)."""
    total_kb = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # field 6 of stat: the session id
                rss = (status.parent / "status").read_text().split("VmRSS:")[1].split()[0]
                total_kb += int(rss)
        except (OSError, IndexError, ValueError):
            continue
    return total_kb / 1024


@pytest.fixture
def small_task(postgres, stack, tmp_path):
    """deploy/small-task.sh on deploy/dagster-small.yaml (TLS off: the loopback server has none)."""
    config = yaml.safe_load((DEPLOY / "dagster-small.yaml").read_text())
    config["storage"]["postgres"]["postgres_db"]["params"] = {"sslmode": "disable"}
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    ui_port, code_port = free_loopback_port(), free_loopback_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_UI_PORT=str(ui_port),
        DAGSTER_CODE_PORT=str(code_port),
        DAGSTER_PG_HOST=postgres.host,
        DAGSTER_PG_PORT=str(postgres.port),
        DAGSTER_PG_USERNAME=postgres.user,
        DAGSTER_PG_PASSWORD="",
        DAGSTER_PG_DB=postgres.database,
        HEALTH_PIPELINE_HOME=str(stack.settings.home),
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    log_path = tmp_path / "small-task.log"
    log = log_path.open("w")
    task = subprocess.Popen(
        ["bash", str(SCRIPT)], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield task, ui_port, log_path
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(task.pid, sig)
                task.wait(timeout=20)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def _tail(log_path: Path, lines: int = 60) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def _wait(what: str, predicate, within_s: float, task, log_path: Path):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert task.poll() is None, f"the task exited ({task.returncode}) while waiting for {what}:\n{_tail(log_path)}"
        found = predicate()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no {what} within {within_s} s:\n{_tail(log_path)}")


def _run_succeeds(client: DagsterGraphQLClient, run_id: str, task, log_path: Path) -> None:
    status = _wait(
        f"end of run {run_id}",
        lambda: (s := client.get_run_status(run_id).value) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
        300,
        task,
        log_path,
    )
    assert status == "SUCCESS", f"run {run_id} ended {status}:\n{_tail(log_path)}"


def test_the_small_task_runs_a_partition_and_a_sensor_tick_on_postgresql(small_task, postgres, stack):
    task, ui_port, log_path = small_task
    send(stack, list(generate_records(30, DAYS, TOKYO, seed=8, duplicate_rate=0.0)))
    sampler = ConnectionSampler(postgres)
    sampler.start()
    client = DagsterGraphQLClient("127.0.0.1", port_number=ui_port)

    def serving():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/server_info", timeout=5) as answer:
                return answer.status == 200
        except OSError:  # not up yet
            return False

    _wait("the webserver", serving, SERVING_WITHIN_S, task, log_path)
    idle_rss = session_rss_mb(task.pid)

    # An operator's launch: queued at the webserver, dequeued by the daemon, run by the code server.
    run_id = client.submit_job_execution(
        "daily_summary_job", repository_location_name="health_pipeline", tags={"dagster/partition": "2026-11-11"}
    )
    peak_rss = idle_rss
    deadline = time.monotonic() + 300
    while client.get_run_status(run_id).value not in {"SUCCESS", "FAILURE", "CANCELED"}:
        assert time.monotonic() < deadline and task.poll() is None, _tail(log_path)
        peak_rss = max(peak_rss, session_rss_mb(task.pid))
        time.sleep(0.5)
    _run_succeeds(client, run_id, task, log_path)
    csv = Path(stack.settings.export_uri) / "daily_summary" / "date=2026-11-11" / "daily_summary.csv"
    assert csv.is_file(), "the run wrote no CSV"

    # The daemon ticks new_data_sensor (RUNNING by default); a late record for 2026-11-11 makes a later
    # tick request that day again, and the daemon launches the run.
    def ticks():
        return query(
            postgres,
            "SELECT id, status FROM job_ticks WHERE type = 'SENSOR' AND status <> 'STARTED'"
            " AND tick_body LIKE '%%new_data_sensor%%' ORDER BY id",
        )

    first = _wait("first tick of new_data_sensor", ticks, 120, task, log_path)
    assert all(status in {"SUCCESS", "SKIPPED"} for _, status in first), first
    send(stack, [{"user_id": "late-phone", "recorded_at": "2026-11-11T21:00:00+09:00", "fatigue": 1, "mood": 2,
                  "motivation": 3, "flags": 4}])  # fmt: skip

    def late_run():
        rows = query(
            postgres,
            "SELECT r.run_id FROM runs r JOIN run_tags t ON t.run_id = r.run_id WHERE r.pipeline_name ="
            " 'daily_summary_job' AND r.partition = '2026-11-11' AND t.key = 'health-pipeline/reason'"
            " AND t.value = 'late data'",
        )
        return rows and rows[0][0]

    late = _wait("run requested by new_data_sensor for the late record", late_run, SECOND_TICK_WITHIN_S, task, log_path)
    _run_succeeds(client, late, task, log_path)
    assert "late-phone,1," in csv.read_text()
    assert all(status in {"SUCCESS", "SKIPPED"} for _, status in ticks()), ticks()

    # Once every run the sensors asked for has ended (the quality job too), a minute with nothing to
    # do but the daemon's ticks: the CPU the task needs idle.
    def all_runs_ended():
        return not query(postgres, "SELECT run_id FROM runs WHERE status IN ('QUEUED', 'STARTING', 'STARTED')")

    _wait("the end of the requested runs", all_runs_ended, 300, task, log_path)
    failed = query(postgres, "SELECT pipeline_name, status FROM runs WHERE status <> 'SUCCESS'")
    assert not failed, f"runs that did not succeed: {failed}"
    cpu_before, idle_started = session_cpu_s(task.pid), time.monotonic()
    time.sleep(IDLE_SAMPLE_S)
    idle_cpu = (session_cpu_s(task.pid) - cpu_before) / (time.monotonic() - idle_started)
    sampler.running = False
    sampler.join(timeout=5)
    size = query(postgres, "SELECT pg_database_size(current_database())")[0][0]
    runs = query(postgres, "SELECT count(*) FROM runs")[0][0]
    print(
        f"small task: {idle_rss:.0f} MB resident serving, {peak_rss:.0f} MB at most during a run;"
        f" {idle_cpu:.1%} of one CPU idle;"
        f" database {size / 1e6:.1f} MB after {runs} runs, at most {sampler.peak} connections at once"
    )

    # One process dies: the script stops the other two and exits non-zero, so ECS replaces the task.
    daemon = subprocess.run(["pgrep", "-s", str(task.pid), "-f", "dagster-daemon run"], capture_output=True, text=True)
    (daemon_pid, *_) = daemon.stdout.split()
    os.kill(int(daemon_pid), signal.SIGKILL)
    assert task.wait(timeout=60) != 0
    left = subprocess.run(["pgrep", "-s", str(task.pid)], capture_output=True, text=True).stdout.split()
    assert not left, f"processes of the task still running after it exited: {left}"
    assert "stopping the task" in log_path.read_text()
