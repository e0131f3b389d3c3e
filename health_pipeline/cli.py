"""The `health-pipeline` command: send records, flush the local stream, show the schema state, run the demo.

Exit codes: 0 success; 1 some records rejected (each in the error output with its reason);
2 a usage or setup error; 3 additive schema drift; 4 schema drift that needs a person.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from health_pipeline.settings import SettingsError, load_settings

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_ADDITIVE_DRIFT, EXIT_NEEDS_PERSON = 0, 1, 2, 3, 4


class SetupError(RuntimeError):
    """The command cannot run as configured; the message says what to change."""


def _numbered_lines(stream: BinaryIO, name: str) -> Iterator[tuple[str, bytes]]:
    for number, line in enumerate(stream, start=1):
        yield f"{name}:{number}", line


def cmd_send(args: argparse.Namespace) -> int:
    from health_pipeline.engines import LocalStack
    from health_pipeline.producer import send_lines

    settings = load_settings()
    if settings.mode != "local":
        raise SetupError("send in aws mode arrives with the Firehose producer (issue 3); use the local mode for now")
    stack = LocalStack(settings)
    desired = stack.desired_schema()
    if args.file == "-":
        source, name = sys.stdin.buffer, "<stdin>"
    else:
        path = Path(args.file)
        if not path.is_file():
            raise SetupError(f"no such file: {path}; give a JSON Lines file or - for standard input")
        source, name = path.open("rb"), str(path)
    try:
        report = send_lines(
            stack.delivery,
            desired,
            _numbered_lines(source, name),
            raw=args.raw,
            on_reject=lambda r: print(f"rejected {r.where}: [{r.code}] {r.reason}", file=sys.stderr),
        )
        if args.flush:
            stack.delivery.flush()
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    segments, backlog_bytes, _ = stack.delivery.backlog()
    print(f"accepted {report.accepted}, rejected {len(report.rejected)}")
    if report.rejected:
        print(f"rejected records are in {stack.delivery.errors.directory} ({len(report.error_paths)} error documents)")
    if segments:
        print(
            f"{backlog_bytes} bytes wait in the spool until the buffer fills (5 MB) or ages (300 s);"
            " `health-pipeline flush` delivers them now"
        )
    return EXIT_REJECTED if report.rejected else EXIT_OK


def cmd_flush(args: argparse.Namespace) -> int:
    from health_pipeline.engines import LocalStack

    settings = load_settings()
    if settings.mode != "local":
        raise SetupError("flush is for the local delivery stream; Firehose flushes its own buffers in aws mode")
    snapshots = LocalStack(settings).delivery.flush()
    print(f"delivered {len(snapshots)} buffer(s) to the table" + (f": snapshots {snapshots}" if snapshots else ""))
    return EXIT_OK


def cmd_schema_status(args: argparse.Namespace) -> int:
    from health_pipeline.engines import LocalStack
    from health_pipeline.schema.drift import ADDITIVE, NEEDS_PERSON, PROMOTION, diff_schemas, drift_fingerprint
    from health_pipeline.schema.model import TableSchema

    settings = load_settings()
    if settings.mode != "local":
        raise SetupError("schema status in aws mode arrives with the schema issue (4); use the local mode for now")
    stack = LocalStack(settings)
    desired = stack.desired_schema()
    live = stack.table.live_schema()
    items = diff_schemas(desired, live) if live is not None else []
    kinds = {item.kind for item in items}
    if NEEDS_PERSON in kinds or PROMOTION in kinds:
        code, state = EXIT_NEEDS_PERSON, "needs a person"
    elif ADDITIVE in kinds:
        code, state = EXIT_ADDITIVE_DRIFT, "additive drift"
    else:
        code, state = EXIT_OK, "in sync" if live is not None else "table not created yet (created from Terraform on first delivery)"
    report = {
        "state": state,
        "exit_code": code,
        "table": stack.table.identifier,
        "desired": {"fingerprint": desired.fingerprint, "columns": desired.as_rows()},
        "live": None if live is None else {"fingerprint": live.fingerprint, "columns": live.as_rows()},
        "drift": [item.as_dict() for item in items],
        "plan_fingerprint": drift_fingerprint(desired, live or TableSchema(()), items) if items else None,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"{stack.table.identifier}: {state}")
        live_rows = {c["name"]: c["type"] for c in (report["live"] or {"columns": []})["columns"]}
        print(f"  {'column':<24}{'desired (terraform)':<24}{'live (iceberg)':<24}")
        names = desired.names + [n for n in live_rows if desired.get(n) is None]
        for column in names:
            want = desired.get(column)
            print(f"  {column:<24}{want.glue_type if want else '-':<24}{live_rows.get(column, '-'):<24}")
        for item in items:
            print(f"  [{item.kind}] {item.reason}")
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    from health_pipeline.demo import run_demo

    return run_demo(users=args.users, days=args.days)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="health-pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="validate and send JSON Lines records through the delivery stream")
    send.add_argument("file", help="a JSON Lines file, or - for standard input")
    send.add_argument("--raw", action="store_true", help="skip the producer validation (the stream's own checks stay)")
    send.add_argument("--flush", action="store_true", help="deliver the spool to the table before returning")
    send.set_defaults(handler=cmd_send)
    flush = commands.add_parser("flush", help="(local) deliver whatever the spool still holds")
    flush.set_defaults(handler=cmd_flush)
    schema = commands.add_parser("schema", help="the table's schema state")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    status = schema_commands.add_parser("status", help="desired (Terraform) vs live Iceberg schema")
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    status.set_defaults(handler=cmd_schema_status)
    demo = commands.add_parser("demo", help="the whole pipeline on the embedded local stack, from nothing")
    demo.add_argument("--users", type=int, default=300)
    demo.add_argument("--days", type=int, default=7)
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code not in (0, None) else EXIT_OK
    try:
        return args.handler(args)
    except (SetupError, SettingsError, ValueError, FileNotFoundError) as err:
        print(f"health-pipeline: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
