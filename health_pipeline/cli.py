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


def schema_target(settings):
    """The schema state and migration target for the configured mode."""
    from health_pipeline.engines import LocalStack
    from health_pipeline.engines.schema_targets import LocalSchemaTarget

    if settings.mode != "local":
        raise SetupError("schema status in aws mode needs the Athena engine, which is not in this build yet")
    stack = LocalStack(settings)
    return LocalSchemaTarget(stack.table, stack.desired_schema, stack.sql)


def cmd_schema_status(args: argparse.Namespace) -> int:
    from health_pipeline.schema.plan import ADDITIVE_DRIFT, NEEDS_A_PERSON

    plan = schema_target(load_settings()).read_plan()
    code = {ADDITIVE_DRIFT: EXIT_ADDITIVE_DRIFT, NEEDS_A_PERSON: EXIT_NEEDS_PERSON}.get(plan.state, EXIT_OK)
    if args.json:
        print(json.dumps({**plan.as_dict(), "exit_code": code}, indent=2, ensure_ascii=False))
        return code
    print(f"{plan.table}: {plan.state.replace('_', ' ')} (plan {plan.fingerprint})")
    views = [("desired (terraform)", plan.desired), ("catalog (glue)", plan.catalog), ("live (iceberg)", plan.live)]
    names = list(dict.fromkeys(c.name for _, schema in views if schema for c in schema.columns))
    print("  " + f"{'column':<24}" + "".join(f"{title:<22}" for title, _ in views))
    for name in names:
        cells = []
        for _, schema in views:
            column = schema.get(name) if schema else None
            cells.append("n/a" if schema is None else (column.glue_type if column else "-"))
        print("  " + f"{name:<24}" + "".join(f"{cell:<22}" for cell in cells))
    for item in plan.items:
        print(f"  [{item.kind}] {item.reason}")
    ddl = plan.add_columns_ddl()
    if ddl:
        print(f"  planned DDL: {ddl}")
        print("  the schema_migration job applies it (schema_drift_sensor starts it when the daemon runs)")
    if plan.promotions:
        print(f"  to apply the promotions, launch schema_migration with config confirm: {plan.fingerprint}")
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
