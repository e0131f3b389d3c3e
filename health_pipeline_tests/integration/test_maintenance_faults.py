"""table_maintenance killed (SIGKILL) at any moment leaves a readable table with every record exactly
once, and the next run completes; sends running during maintenance lose nothing and finish while it
runs (each maintenance step holds the commit lock for one commit at most)."""

import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.engines.local import LocalStack
from health_pipeline.engines.local.delivery_stream import LocalDeliveryStream
from health_pipeline.engines.local.table import local_path
from health_pipeline.settings import PROJECT_ROOT, Settings
from health_pipeline_tests.support import CLI
from health_pipeline_tests.support.synthetic_records import jsonl_records, write_jsonl

RECORDS = 12_000
NOW = datetime.now(UTC) + timedelta(days=60)  # every day closed, every snapshot but the last expired
MAINTENANCE = f"""
import sys, time
from datetime import datetime
from pathlib import Path
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings
stack = LocalStack(Settings(home=Path(sys.argv[1])))
stack.table.load()
maintenance = stack.maintenance
print("ready", flush=True)
if sys.argv[2:] == ["on-go"]:
    sys.stdin.readline()
report = maintenance.run(datetime.fromisoformat({NOW.isoformat()!r}))
print("done", report.state, time.time(), "; ".join(report.problems), flush=True)
"""


@pytest.fixture(scope="module")
def unmaintained(tmp_path_factory) -> Path:
    """A home whose table holds RECORDS records (users old-1..) in ~70 small snapshots over a week."""
    home = tmp_path_factory.mktemp("unmaintained") / "home"
    stack = LocalStack(Settings(home=home))
    stream = LocalDeliveryStream(stack.settings.delivery_dir, stack.table, stack.desired_schema, buffer_bytes=20_000)
    data = jsonl_records(RECORDS, prefix="old-", unique_users=True, days=7)
    assert stream.send([LineBlock.of(data, source="old")], stack.desired_schema()).accepted == RECORDS
    stream.flush()
    return home


@contextmanager
def trial(home: Path):
    """`home` to run on, put back as it was afterwards (the catalog holds absolute paths: a copy
    elsewhere would still point at this home's files)."""
    pristine = home.parent.with_name(home.parent.name + "-pristine")
    shutil.copytree(home.parent, pristine)
    try:
        yield home
    finally:
        shutil.rmtree(home.parent)
        pristine.rename(home.parent)


def start_maintenance(home: Path, *wait: str) -> subprocess.Popen:
    """Maintenance of `home` in its own process, once that has loaded ("on-go": and read a line)."""
    process = subprocess.Popen(
        [sys.executable, "-c", MAINTENANCE, str(home), *wait],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return process


def users_in_data_files(home: Path) -> Counter:
    """user_id of every row of the data files the current snapshot lists, read with pyarrow alone."""
    table = LocalStack(Settings(home=home)).table.load()
    paths = [local_path(task.file.file_path) for task in table.scan().plan_files()]
    rows = pa.concat_tables([pq.read_table(path, columns=["user_id"]) for path in paths])
    return Counter(rows["user_id"].to_pylist())


def files_per_day(home: Path) -> Counter:
    table = LocalStack(Settings(home=home)).table.load()
    return Counter(task.file.partition[0] for task in table.scan().plan_files())


def run_maintenance_in_process(home: Path):
    return LocalStack(Settings(home=home)).maintenance.run(NOW)


def test_maintenance_killed_at_random_moments_keeps_every_record_once_and_the_next_run_completes(
    unmaintained, tmp_path
):
    expected = Counter({f"old-{n}": 1 for n in range(1, RECORDS + 1)})
    with trial(unmaintained) as home:
        whole = start_maintenance(home)
        started = time.monotonic()
        out, err = whole.communicate(timeout=120)
        duration = time.monotonic() - started
    assert out.startswith("done OK"), (out, err)

    trials = 4
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    delays = [rng.uniform(duration * n / trials, duration * (n + 1) / trials) for n in range(trials)]
    killed = 0
    for n, delay in enumerate(delays):
        with trial(unmaintained) as home:
            process = start_maintenance(home)
            time.sleep(delay)
            process.kill()
            out, _ = process.communicate(timeout=60)
            killed += process.returncode == -9
            said = (
                f"seed {seed}, trial {n}, killed {delay:.3f} s into a {duration:.3f} s run ({out.strip() or 'killed'})"
            )
            assert users_in_data_files(home) == expected, said
            report = run_maintenance_in_process(home)
            assert report.state == "OK", (said, report.problems)
            assert users_in_data_files(home) == expected, said
            assert set(files_per_day(home).values()) == {1}, said  # every (closed) day compacted
    assert killed >= trials // 2, f"most runs should be killed part-way (seed {seed}, delays {delays})"


def test_sends_during_maintenance_lose_nothing_and_finish_while_it_runs(unmaintained, tmp_path, cli_env):
    with trial(unmaintained) as home:
        sends_during_maintenance(home, tmp_path, cli_env)


def sends_during_maintenance(home: Path, tmp_path: Path, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "HEALTH_PIPELINE_HOME": str(home)}
    sources = [write_jsonl(tmp_path / f"new{n}.jsonl", 2000, prefix=f"new{n}-", unique_users=True) for n in range(3)]
    maintenance = start_maintenance(home, "on-go")
    sends = [
        subprocess.Popen(
            [*CLI, "send", str(source), "--progress", "--flush"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for source in sources
    ]
    for send in sends:  # every send has spooled its records; its commit (the flush) is next
        assert send.stderr.readline().startswith("acknowledged 2000 through")
    maintenance.stdin.write("go\n")
    maintenance.stdin.flush()
    finished = []
    for send in sends:
        out, err = send.communicate(timeout=120)
        assert send.returncode == 0, err
        finished.append(time.time())
    out, err = maintenance.communicate(timeout=120)
    assert out.startswith("done OK"), (out, err)
    ended = float(out.split()[2])
    assert max(finished) < ended, "each send waits for one maintenance commit at most, not for the whole run"

    expected = Counter({f"old-{n}": 1 for n in range(1, RECORDS + 1)})
    expected.update({f"new{s}-{n}": 1 for s in range(3) for n in range(1, 2001)})
    assert users_in_data_files(home) == expected
    assert run_maintenance_in_process(home).state == "OK"
    assert users_in_data_files(home) == expected
