"""The sandbox (`python -m sandbox`, what `make sandbox` runs) as a process of its own on a free port of
127.0.0.1, reached through the sandbox.env it writes: how `make demo-aws` and the tests start it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120.0


class SandboxProcess:
    def __init__(self, process: subprocess.Popen, env_file: Path, log: Path) -> None:
        self.process = process
        self.env_file = env_file
        self.log = log
        self.env: dict[str, str] = {}

    @classmethod
    @contextmanager
    def started(cls, home: Path, firehose_interval_s: int | None = None) -> Iterator[SandboxProcess]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "AWS_"))}
        env.update(HEALTH_PIPELINE_HOME=str(home), HEALTH_PIPELINE_SANDBOX_PORT="0")
        if firehose_interval_s is not None:
            env["HEALTH_PIPELINE_SANDBOX_FIREHOSE_INTERVAL_S"] = str(firehose_interval_s)
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

    def download_prefix(self, uri: str, target: Path) -> int:
        """Copy every object under an s3:// prefix to `target`, keeping the keys' paths; the count."""
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        s3 = self.client("s3")
        count = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                path = target / item["Key"][len(prefix) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                count += 1
        return count

    def flush_firehose(self) -> dict[str, Any]:
        """Deliver every Firehose buffer now (the sandbox's POST /_sandbox/firehose/flush)."""
        import json
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/_sandbox/firehose/flush", method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())


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
