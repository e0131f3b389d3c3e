from collections.abc import Mapping
from typing import Any

import dagster as dg

from health_pipeline.defs.common import OWNER, machine_faults
from health_pipeline.defs.delivery.checks import CHECK_SPECS, check_results
from health_pipeline.delivery.stream import DeliveryStatus
from health_pipeline.stack import Stack

SAMPLE_MESSAGE_CHARS = 120


@dg.asset(
    group_name="ingestion",
    kinds={"firehose", "iceberg"},  # locally, the delivery stream with Firehose's semantics
    owners=[OWNER],
    check_specs=CHECK_SPECS,
)
def firehose_delivery(context: dg.AssetExecutionContext, stack: dg.ResourceParam[Stack]) -> dg.MaterializeResult:
    """How records reach health_records since the last run. In aws mode: the Firehose stream's state and
    Iceberg destination (describe_delivery_stream), its CloudWatch figures (IncomingRecords,
    DeliveryToIceberg.SuccessfulRowCount, FailedRowCount, DataFreshness) and the new objects under its
    S3 error output prefix. In local mode: records received, delivered and rejected, the spool backlog,
    the age of the oldest undelivered record and the new error documents. Each run picks up where the
    last one stopped (a cursor kept in this asset's materialization); its checks say whether the
    stream is active, has new errors and keeps records fresh."""
    with machine_faults("firehose_delivery could not read the delivery stream's state", stack.settings.home):
        status = stack.delivery_monitor.status(_previous_cursor(context))
    context.log.info(
        f"{status.stream}: {status.state}; "
        + ", ".join(f"{name} {value}" for name, value in status.figures.items() if value is not None)
    )
    return dg.MaterializeResult(metadata=delivery_metadata(status), check_results=check_results(status))


def _previous_cursor(context: dg.AssetExecutionContext) -> dict[str, Any] | None:
    event = context.instance.get_latest_materialization_event(context.asset_key)
    materialization = event.asset_materialization if event is not None else None
    value = materialization.metadata.get("cursor") if materialization is not None else None
    data = value.data if isinstance(value, dg.JsonMetadataValue) else None
    return dict(data) if isinstance(data, Mapping) else None


def delivery_metadata(status: DeliveryStatus) -> dict[str, Any]:
    """The observation as the UI shows it: a summary table, the plottable figures, the error codes,
    samples with links to the error objects, and the cursor for the next run."""
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.md(_summary_markdown(status)),
        "state": status.state,
        "destination": status.destination,
        "buffering": f"{status.buffer_mb:g} MB / {status.buffer_seconds:g} s",
        "window": f"{_moment(status.window_start)} -> {_moment(status.window_end)}",
    }
    for name, value in status.figures.items():
        metadata[name] = dg.MetadataValue.null() if value is None else value
    metadata["error_codes"] = dg.MetadataValue.md(_codes_markdown(status))
    metadata["error_samples"] = dg.MetadataValue.md(_samples_markdown(status))
    remote = "://" in status.error_location or status.error_location.startswith("(")
    metadata["error_output"] = status.error_location if remote else dg.MetadataValue.path(status.error_location)
    metadata["cursor"] = dg.MetadataValue.json(status.cursor)
    return metadata


def _summary_markdown(status: DeliveryStatus) -> str:
    state = f"**{status.state}**" + ("" if not status.problems else " - " + "; ".join(status.problems))
    lines = [
        f"{state} · {status.destination} · buffer {status.buffer_mb:g} MB / {status.buffer_seconds:g} s",
        f"window {_moment(status.window_start)} -> {_moment(status.window_end)}",
        "",
        "| figure | value |",
        "|---|---:|",
    ]
    for name, value in status.figures.items():
        shown = "-" if value is None else (f"{value:,}" if isinstance(value, int) else f"{value:,.1f}")
        lines.append(f"| {name.replace('_', ' ')} | {shown} |")
    freshness = "nothing waiting" if status.freshness_s is None else f"{status.freshness_s:,.0f} s"
    lines.append(f"| freshness ({status.freshness_source}) | {freshness} (limit {status.freshness_limit_s:,.0f} s) |")
    lines += [""] + [f"- {note}" for note in status.notes]
    return "\n".join(lines)


def _codes_markdown(status: DeliveryStatus) -> str:
    if not status.error_codes:
        return "no new error records"
    lines = ["| error code | records |", "|---|---:|"]
    lines += [f"| `{code}` | {count:,} |" for code, count in status.error_codes.items()]
    return "\n".join(lines)


def _samples_markdown(status: DeliveryStatus) -> str:
    if not status.error_samples:
        return f"no new error records in {status.error_location}"
    lines = ["| error object | code | message | data |", "|---|---|---|---|"]
    for sample in status.error_samples:
        name = sample.location.rsplit("/", 1)[-1]
        target = f"[{_cell(name)}]({sample.link})" if sample.link else _cell(sample.location)
        message = sample.message if len(sample.message) <= SAMPLE_MESSAGE_CHARS else sample.message[:117] + "..."
        lines.append(f"| {target} | `{sample.code}` | {_cell(message)} | `{_cell(sample.raw_preview)}` |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _moment(value) -> str:
    return "the beginning" if value is None else value.isoformat(timespec="seconds")
