"""What many tests share: the CLI runner, a valid record, JSON Lines encoding, delivery through the
local stream, moto's Athena results, and Dagster materializations of the code location."""

import json
import socket
import subprocess
import sys

from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import PROJECT_ROOT, Settings

CLI = [sys.executable, "-m", "health_pipeline.cli"]
# One valid record as the app sends it (a Tokyo offset on recorded_at).
GOOD = {
    "user_id": "u1",
    "recorded_at": "2026-11-20T08:30:00+09:00",
    "fatigue": 5,
    "mood": 7,
    "motivation": 6,
    "flags": 9,
}


def run_cli(env: dict[str, str], *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, env=env, cwd=PROJECT_ROOT, timeout=120)


def jsonl_line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def jsonl(records: list[dict]) -> bytes:
    return b"".join(map(jsonl_line, records))


def deliver(stack: LocalStack, records: list[dict], raw: bool = False):
    """Send `records` through the local stream as `health-pipeline send` would, then flush."""
    from health_pipeline.delivery.producer import send_lines

    lines = [(f"t:{n}", jsonl_line(r)) for n, r in enumerate(records)]
    report = send_lines(stack.delivery_stream, stack.desired_schema(), lines, raw=raw)
    stack.delivery_stream.flush()
    return report


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def preset_athena_results(
    endpoint: str, rows: list[list[str | None]], region: str = "ap-northeast-1", types: list[str] | None = None
) -> None:
    """Queue one Athena result in moto (FIFO): the first row is the header, values are strings (None: null,
    no VarCharValue); `types` are the columns' Athena types (default all varchar)."""
    import urllib.request

    types = types or ["varchar"] * len(rows[0])
    body = {
        "results": [
            {
                "rows": [{"Data": [{} if value is None else {"VarCharValue": value} for value in row]} for row in rows],
                "column_info": [
                    {
                        "Name": name,
                        "Type": kind,
                        "CatalogName": "",
                        "SchemaName": "",
                        "TableName": "",
                        "Label": name,
                        "Precision": 0,
                        "Scale": 0,
                        "Nullable": "UNKNOWN",
                        "CaseSensitive": True,
                    }
                    for name, kind in zip(rows[0], types, strict=True)
                ],
            }
        ],
        "region": region,
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10)


def unbound_assets(defs, *names: str) -> list:
    """The named assets of `defs` as it was built (before Definitions binds its resources to them)."""
    import dagster as dg

    by_name = {a.key.to_user_string(): a for a in defs.assets if isinstance(a, dg.AssetsDefinition)}
    return [by_name[name] for name in names]


def materialize(settings: Settings, names: list[str], stack=None, **kwargs):
    """dg.materialize of the named assets of the code location for `settings`, with its resources;
    with `stack`, that stack (e.g. one whose query engine a test replaced) as the `stack` resource."""
    import dagster as dg

    from health_pipeline.definitions import build_definitions

    defs = build_definitions(settings)
    resources = {**defs.resources, **({"stack": stack} if stack is not None else {})}
    return dg.materialize(unbound_assets(defs, *names), resources=resources, **kwargs)
