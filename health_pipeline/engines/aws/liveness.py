"""aws mode's signs of life: CloudWatch data points in the `health-pipeline` namespace, which the
heartbeat and export alarms of terraform/modules/alarms (watch.tf) watch. The Dagster role may
PutMetricData in that namespace only (modules/iam, the cloudwatch:namespace condition key)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from health_pipeline.alerts.liveness import (
    CODE_LOCATION,
    CODE_LOCATION_DIMENSION,
    EXPORT_METRIC,
    HEARTBEAT_METRIC,
    NAMESPACE,
    LastSeen,
    day_age,
)

DATA_PER_CALL = 20  # PutMetricData's MetricData limit before it was raised to 1,000: safe under both


class CloudWatchLiveness:
    def __init__(self, client_factory: Callable[[], Any], location: str = CODE_LOCATION) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self.dimensions = [{"Name": CODE_LOCATION_DIMENSION, "Value": location}]
        self.where = f"CloudWatch namespace {NAMESPACE} ({CODE_LOCATION_DIMENSION}={location})"

    def heartbeat(self, at: datetime) -> None:
        self._put([{"MetricName": HEARTBEAT_METRIC, "Value": 1.0, "Unit": "Count"}], at)

    def exported(self, days: list[date], today: date, at: datetime) -> None:
        self._put(
            [{"MetricName": EXPORT_METRIC, "Value": float(day_age(day, today)), "Unit": "None"} for day in days], at
        )

    def read(self, now: datetime, lookback: timedelta) -> LastSeen:
        """The newest minute with a heartbeat, and with an export of yesterday or later (age 1 or less),
        in the last `lookback` (one GetMetricData call; to the minute)."""
        if self._client is None:
            self._client = self._client_factory()

        def query(name: str, metric: str, statistic: str) -> dict:
            metric_id = {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": self.dimensions}
            return {"Id": name, "MetricStat": {"Metric": metric_id, "Period": 60, "Stat": statistic}}

        answer = self._client.get_metric_data(
            MetricDataQueries=[
                query("heartbeat", HEARTBEAT_METRIC, "SampleCount"),
                query("export", EXPORT_METRIC, "Minimum"),
            ],
            StartTime=now - lookback,
            EndTime=now,
        )
        points = {r["Id"]: list(zip(r["Timestamps"], r["Values"], strict=True)) for r in answer["MetricDataResults"]}
        beats = [at for at, _ in points.get("heartbeat", [])]
        exports = [at for at, age in points.get("export", []) if age <= 1]
        return LastSeen(max(beats, default=None), max(exports, default=None), None)

    def _put(self, data: list[dict], at: datetime) -> None:
        if self._client is None:
            self._client = self._client_factory()
        try:
            for start in range(0, len(data), DATA_PER_CALL):
                self._client.put_metric_data(
                    Namespace=NAMESPACE,
                    MetricData=[
                        {**datum, "Dimensions": self.dimensions, "Timestamp": at}
                        for datum in data[start : start + DATA_PER_CALL]
                    ],
                )
        except Exception:
            self._client = None  # the next call makes a new client: new credentials, a new endpoint
            raise
