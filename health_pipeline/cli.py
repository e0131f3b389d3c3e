"""The `health-pipeline` command: send and flush records, show the schema state, estimate a backfill, test alerts, erase people's data, run the demo.

Exit codes: 0 success; 1 some records rejected (each in the error output with its reason) or, in aws
mode, not delivered after every retry (each in the dead-letter file with its error codes), or (`alerts
status`) a heartbeat or an export older than its alarm's window;
2 a usage or setup error; 3 additive schema drift; 4 schema drift that needs a person.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from health_pipeline.settings import SettingsError, load_settings
from health_pipeline.storage_fault import StorageFault, acknowledged_text, storage_fault

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_ADDITIVE_DRIFT, EXIT_NEEDS_PERSON = 0, 1, 2, 3, 4


class SetupError(RuntimeError):
    """The command cannot run as configured; the message says what to change."""


def cmd_send(args: argparse.Namespace) -> int:
    from health_pipeline.delivery.producer import send_file
    from health_pipeline.engines import stack_for
    from health_pipeline.stack import SpooledDeliveryStream

    stack = stack_for(load_settings())
    delivery = stack.delivery_stream
    spool = delivery if isinstance(delivery, SpooledDeliveryStream) else None
    if args.flush and spool is None:
        raise SetupError("--flush is for the local delivery stream; Firehose delivers its own buffers (5 MB / 300 s)")
    desired = stack.desired_schema()
    if args.file == "-":
        source, name = sys.stdin.buffer, "<stdin>"
    else:
        path = Path(args.file)
        if not path.is_file():
            raise SetupError(f"no such file: {path}; give a JSON Lines file or - for standard input")
        source, name = path.open("rb"), str(path)

    last: list[tuple[int, str]] = []

    def progress(count: int, where: str) -> None:
        last[:] = [(count, where)]
        if args.progress:
            print(f"acknowledged {count} through {where}", file=sys.stderr, flush=True)

    try:
        report = send_file(
            delivery,
            desired,
            source,
            name,
            raw=args.raw,
            on_reject=lambda r: print(f"rejected {r.where}: [{r.code}] {r.reason}", file=sys.stderr),
            on_ack=progress,
        )
        _tell_damage(report.damaged)
        if args.flush and spool is not None:
            try:
                spool.flush()
            except StorageFault as fault:  # every record of the send is acknowledged: the spool holds them
                raise fault.but(acknowledged=acknowledged_text(*(last[0] if last else (0, None)))) from fault
            _tell_damage([str(damage) for damage in spool.damaged[len(report.damaged) :]])
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    print(f"accepted {report.accepted}, rejected {len(report.rejected)}")
    if report.rejected and delivery.errors is not None:
        print(f"rejected records are in {delivery.errors.directory} ({len(report.error_paths)} error documents)")
    if report.dead_lettered:
        codes = ", ".join(f"{code} x{count}" for code, count in report.dead_letter_codes.items())
        print(
            f"{report.dead_lettered} records were not delivered after every retry ({codes}); they are in"
            f" {report.dead_letter_path}, one JSON line each (the record in base64 as `data`, its error codes)"
        )
    if spool is not None:
        segments, backlog_bytes, _ = spool.backlog()
        if segments:
            print(
                f"{backlog_bytes} bytes wait in the spool until the buffer fills ({spool.buffer_bytes / 2**20:g} MB)"
                f" or ages ({spool.buffer_seconds:g} s); `health-pipeline flush` delivers them now"
            )
    return EXIT_OK if report.complete else EXIT_REJECTED


def cmd_flush(args: argparse.Namespace) -> int:
    from health_pipeline.engines import stack_for
    from health_pipeline.stack import SpooledDeliveryStream

    delivery = stack_for(load_settings()).delivery_stream
    if not isinstance(delivery, SpooledDeliveryStream):
        raise SetupError("flush is for the local delivery stream; Firehose flushes its own buffers in aws mode")
    snapshots = delivery.flush()
    _tell_damage([str(damage) for damage in delivery.damaged])
    print(f"delivered {len(snapshots)} buffer(s) to the table" + (f": snapshots {snapshots}" if snapshots else ""))
    return EXIT_OK


def _tell_damage(damage: list) -> None:
    """A line on stderr for each damaged spool segment found and moved to the error output."""
    for text in damage:
        print(f"health-pipeline: {text}", file=sys.stderr)


def cmd_schema_status(args: argparse.Namespace) -> int:
    from health_pipeline.engines import stack_for
    from health_pipeline.schema.plan import ADDITIVE_DRIFT, NEEDS_A_PERSON

    plan = stack_for(load_settings()).schema_target.read_plan()
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
    if plan.desired_layout is not None:
        layouts = [("desired (terraform)", plan.desired_layout), ("live (iceberg)", plan.live_layout)]
        print("  " + f"{'layout':<24}" + "".join(f"{title:<34}" for title, _ in layouts))
        for label, part in (("partition spec", "partition_text"), ("sort order", "sort_text")):
            cells = ["n/a" if layout is None else getattr(layout, part) for _, layout in layouts]
            print("  " + f"{label:<24}" + "".join(f"{cell:<34}" for cell in cells))
    else:
        print("  layout: not compared (the Terraform directory has no modules/s3tables)")
    for item in plan.items:
        print(f"  [{item.kind}] {item.reason}")
    ddl = plan.add_columns_ddl()
    if ddl:
        print(f"  planned DDL: {ddl}")
        print("  the schema_migration job applies it (schema_drift_sensor starts it when the daemon runs)")
    if plan.promotions:
        print(f"  to apply the promotions, launch schema_migration with config confirm: {plan.fingerprint}")
    return code


def cmd_estimate(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from health_pipeline.engines import stack_for
    from health_pipeline.summary.estimate import estimate_backfill
    from health_pipeline.summary.estimate_report import estimate_lines

    settings = load_settings()
    if args.last < args.first:
        raise SetupError(f"--to {args.last} is before --from {args.first}: give the first day, then the last")
    stack = stack_for(settings)
    try:
        table = stack.table.iceberg_table()
        estimate = estimate_backfill(table, args.first, args.last, settings.zone, stack.table.table_name)
    except (BotoCoreError, ClientError) as err:
        raise SetupError(
            f"could not read the table {stack.table.identifier} to estimate ({err}); check the AWS credentials"
            " and region, and that they may read the Glue table and its S3 Tables metadata"
        ) from err
    if args.json:
        print(json.dumps({**estimate.as_dict(), "timezone": settings.timezone, "table_exists": table is not None}))
        return EXIT_OK
    for line in estimate_lines(
        estimate, args.first, args.last, settings.timezone, stack.table.identifier, table is not None
    ):
        print(line)
    return EXIT_OK


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD (e.g. 2026-11-11)") from None


def cmd_alerts_test(args: argparse.Namespace) -> int:
    from health_pipeline.alerts.messages import AlertDestinationError, Links, test_alert
    from health_pipeline.engines import stack_for

    settings = load_settings()
    destination = stack_for(settings).alert_destination
    alert = test_alert(settings.mode, destination.where, Links(settings.ui_url))
    try:
        destination.send(alert)
    except AlertDestinationError as err:
        raise SetupError(str(err)) from err
    except Exception as err:
        raise SetupError(
            f"the test alert was not delivered to {destination.where}: {type(err).__name__}: {err}"
            " (aws: the role needs sns:Publish on the topic and kms:GenerateDataKey/Decrypt on its key)"
        ) from err
    print(f"sent a test alert to {destination.where} (incident {alert.key})")
    return EXIT_OK


def cmd_alerts_status(args: argparse.Namespace) -> int:
    from health_pipeline.alerts.liveness import WatchError, current_status
    from health_pipeline.engines import stack_for

    settings = load_settings()
    try:
        status = current_status(stack_for(settings).liveness, settings.alarms_module_dir)
    except WatchError as err:
        raise SetupError(str(err)) from err
    print("\n".join(status.lines))
    return EXIT_OK if status.healthy else EXIT_REJECTED


def cmd_erase(args: argparse.Namespace) -> int:
    from health_pipeline.engines import stack_for
    from health_pipeline.erasure import ErasureFailed, erase

    settings = load_settings()
    try:
        receipt = erase(
            stack_for(settings),
            settings,
            args.user,
            reason=args.reason,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except ErasureFailed as err:
        print(f"health-pipeline: the erasure did not finish: {err}", file=sys.stderr)
        return EXIT_REJECTED
    print(receipt.as_json().decode("utf-8"), end="")
    print(f"receipt kept at {receipt.location}", file=sys.stderr)
    return EXIT_OK


def cmd_preflight(args: argparse.Namespace) -> int:
    from health_pipeline.engines import stack_for
    from health_pipeline.preflight import EXIT_CANNOT_RUN, PreflightCannotRun, exit_code, run_preflight, summary

    results = []
    try:
        settings = load_settings()
        for result in run_preflight(settings, stack_for(settings)):
            results.append(result)
            if not args.json:
                print(result.line(), flush=True)
    except PreflightCannotRun as err:
        print(f"health-pipeline: preflight cannot run: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(json.dumps([r.as_dict() for r in results], indent=2, ensure_ascii=False) if args.json else summary(results))
    return exit_code(results)


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
    send.add_argument(
        "--progress", action="store_true", help="print each acknowledgement (records durable in the stream) to stderr"
    )
    send.set_defaults(handler=cmd_send)
    flush = commands.add_parser("flush", help="(local) deliver whatever the spool still holds")
    flush.set_defaults(handler=cmd_flush)
    schema = commands.add_parser("schema", help="the table's schema state")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    status = schema_commands.add_parser("status", help="desired (Terraform) vs live Iceberg schema")
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    status.set_defaults(handler=cmd_schema_status)
    estimate = commands.add_parser(
        "estimate", help="what summarizing a range of days would scan on Athena and cost, from the manifests"
    )
    estimate.add_argument("--from", dest="first", type=_day, required=True, help="the first day, YYYY-MM-DD")
    estimate.add_argument("--to", dest="last", type=_day, required=True, help="the last day (inclusive), YYYY-MM-DD")
    estimate.add_argument("--json", action="store_true", help="print the estimate as JSON")
    estimate.set_defaults(handler=cmd_estimate)
    alerts = commands.add_parser("alerts", help="the alerts operators receive")
    alerts_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    alerts_test = alerts_commands.add_parser(
        "test", help="send one test alert through the mode's destination (local: alert files, aws: the SNS topic)"
    )
    alerts_test.set_defaults(handler=cmd_alerts_test)
    status_help = "when alerts_sensor last ticked and the last CSV was exported; exit 1 if past its alarm's window"
    alerts_commands.add_parser("status", help=status_help).set_defaults(handler=cmd_alerts_status)
    erase = commands.add_parser(
        "erase", help="erase people's records, summaries, exports, spool and error output; prints the receipt"
    )
    erase.add_argument("--user", action="append", required=True, metavar="ID", help="a user_id to erase (repeat)")
    erase.add_argument("--reason", help="why (kept in the receipt, e.g. the request's reference)")
    erase.set_defaults(handler=cmd_erase)
    preflight = commands.add_parser(
        "preflight", help="(aws) read-only checks of the live account against what the deployment and the code need"
    )
    preflight.add_argument("--json", action="store_true", help="print the results as a JSON list")
    preflight.set_defaults(handler=cmd_preflight)
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
    except (SetupError, SettingsError, StorageFault) as err:
        print(f"health-pipeline: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        fault = storage_fault(err, f"health-pipeline {args.command} failed", _home())
        if fault is None and isinstance(err, ValueError | FileNotFoundError):
            print(f"health-pipeline: {err}", file=sys.stderr)
            return EXIT_USAGE
        if fault is None:
            raise
        print(f"health-pipeline: {fault}", file=sys.stderr)
        return EXIT_USAGE


def _home() -> Path:
    try:
        return load_settings().home
    except SettingsError:
        return Path.cwd()


if __name__ == "__main__":
    sys.exit(main())
