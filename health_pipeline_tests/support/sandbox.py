"""The sandbox (`python -m sandbox`, what `make sandbox` runs) as the tests start it: a process of its
own on a free port of 127.0.0.1, reached through the sandbox.env it writes."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pyarrow as pa

from health_pipeline.settings import PROJECT_ROOT

START_TIMEOUT_S = 60.0


class SandboxProcess:
    def __init__(self, process: subprocess.Popen, env_file: Path, log: Path) -> None:
        self.process = process
        self.env_file = env_file
        self.log = log
        self.env: dict[str, str] = {}

    @classmethod
    @contextmanager
    def started(cls, home: Path) -> Iterator[SandboxProcess]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "AWS_"))}
        env.update(HEALTH_PIPELINE_HOME=str(home), HEALTH_PIPELINE_SANDBOX_PORT="0")
        log = home / "sandbox.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "sandbox"], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        running = cls(process, home / "sandbox.env", log)
        try:
            running.wait_ready()
            yield running
        finally:
            running.stop()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.env_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start; its log:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.1)
        for line in self.env_file.read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                self.env[name] = shlex.split(value)[0] if value else ""

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.session.Session(
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_REGION"],
        ).client(service, endpoint_url=self.endpoint, **kwargs)


def iceberg_catalog(sandbox: SandboxProcess) -> Any:
    from pyiceberg.catalog.glue import GlueCatalog

    return GlueCatalog(
        "sandbox_test",
        client=sandbox.client("glue"),
        **{
            "s3.endpoint": sandbox.endpoint,
            "s3.region": sandbox.env["AWS_REGION"],
            "s3.access-key-id": sandbox.env["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": sandbox.env["AWS_SECRET_ACCESS_KEY"],
        },
    )


def athena_run(
    athena: Any,
    sql: str,
    parameters: list[str] | None = None,
    *,
    workgroup: str = "health-logger-prod",
    catalog: str = "AwsDataCatalog",
    database: str = "health_logger_prod_health_logs",
) -> dict[str, Any]:
    """Start one statement and wait for its end; the QueryExecution."""
    request: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Catalog": catalog, "Database": database},
        "WorkGroup": workgroup,
    }
    if parameters is not None:
        request["ExecutionParameters"] = parameters
    query_id = athena.start_query_execution(**request)["QueryExecutionId"]
    for _ in range(600):
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return execution
        time.sleep(0.05)
    raise AssertionError(f"query {query_id} did not finish")


def sandbox_records(*, seed: int, count: int, users: int = 40, days: int = 3) -> pa.Table:
    """Records as the table holds them (recorded_at UTC without zone, microseconds), over `days` days from
    2026-11-01 00:00 UTC, with a few exact duplicates (at-least-once delivery)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(datetime(2026, 11, 1), "us")
    moments = start + rng.integers(0, days * 86_400 * 10**6, count).astype("timedelta64[us]")
    user_ids = [f"user-{n:03d}" for n in rng.integers(0, users, count)]
    table = pa.table(
        {
            "user_id": pa.array(user_ids, pa.string()),
            "recorded_at": pa.array(moments, pa.timestamp("us")),
            "fatigue": pa.array(rng.integers(0, 11, count), pa.int32()),
            "mood": pa.array(rng.integers(0, 11, count), pa.int32()),
            "motivation": pa.array(rng.integers(0, 11, count), pa.int32()),
            "flags": pa.array(rng.choice([0, 0, 1, 2, 4, 8, 9], count), pa.int32()),
        }
    )
    return pa.concat_tables([table, table.slice(0, count // 50)]).slice(0, count)
