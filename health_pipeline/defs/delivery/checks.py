"""The checks of firehose_delivery, evaluated from the same observation the asset records, so the
figures in the checks and in the materialization always agree. Each carries what was expected and
what was found."""

from __future__ import annotations

import dagster as dg

from health_pipeline.delivery.stream import DeliveryStatus

ASSET = "firehose_delivery"

CHECK_SPECS = [
    dg.AssetCheckSpec(
        "stream_active",
        asset=ASSET,
        description="The delivery stream is ACTIVE and delivers to the configured Iceberg table.",
    ),
    dg.AssetCheckSpec(
        "no_new_delivery_errors",
        asset=ASSET,
        description="No record went to the error output since the last observation (nor failed in CloudWatch).",
    ),
    dg.AssetCheckSpec(
        "data_freshness",
        asset=ASSET,
        description="Records reach the table within twice the buffer interval (oldest undelivered / DataFreshness).",
    ),
]


def check_results(status: DeliveryStatus) -> list[dg.AssetCheckResult]:
    return [_stream_active(status), _no_new_delivery_errors(status), _data_freshness(status)]


def _stream_active(status: DeliveryStatus) -> dg.AssetCheckResult:
    expected = f"ACTIVE, delivering to {status.expected_destination}"
    actual = f"{status.state}, delivering to {status.destination}"
    return dg.AssetCheckResult(
        check_name="stream_active",
        passed=status.active,
        severity=dg.AssetCheckSeverity.ERROR,
        description=actual if status.active else "; ".join(status.problems),
        metadata={
            "expected": expected,
            "actual": actual,
            "stream": status.stream,
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in status.problems) or "none"),
        },
    )


def _no_new_delivery_errors(status: DeliveryStatus) -> dg.AssetCheckResult:
    count = status.new_error_records
    codes = ", ".join(f"{code} x{n}" for code, n in status.error_codes.items())
    return dg.AssetCheckResult(
        check_name="no_new_delivery_errors",
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "no new error records"
            if count == 0
            else f"{count} new error record(s) in {status.error_location}" + (f": {codes}" if codes else "")
        ),
        metadata={
            "expected": 0,
            "actual": count,
            "error_codes": codes or "none",
            "error_output": status.error_location,
        },
    )


def _data_freshness(status: DeliveryStatus) -> dg.AssetCheckResult:
    limit = status.freshness_limit_s
    fresh = status.freshness_s
    passed = fresh is None or fresh <= limit
    actual = "nothing waiting" if fresh is None else f"{fresh:.0f} s"
    return dg.AssetCheckResult(
        check_name="data_freshness",
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{status.freshness_source}: {actual} (limit {limit:.0f} s, twice the {status.buffer_seconds:.0f} s buffer)"
        ),
        metadata={
            "expected": f"<= {limit:.0f} s",
            "actual": actual,
            "actual_s": dg.MetadataValue.float(float(fresh)) if fresh is not None else dg.MetadataValue.null(),
            "measured_as": status.freshness_source,
        },
    )
