"""A simulated Athena on a fake clock, to measure the engine's polling without waiting.

Each query succeeds `duration_s` after it starts; the engine's sleep advances the clock. Used by
`make bench` (athena_polls_per_query, athena_detect_delay_ratio) and by the polling tests.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from types import SimpleNamespace

from health_pipeline.engines.aws.athena import AthenaQueryEngine
from health_pipeline.sql import Query


class SimulatedAthena:
    """The four Athena calls the engine makes, answering from a fake clock."""

    def __init__(self, duration_s: float, region: str = "ap-northeast-1") -> None:
        self.duration_s = duration_s
        self.now = 0.0
        self.calls: Counter[str] = Counter()
        self.started_at: float | None = None
        self.detected_at: float | None = None
        self.meta = SimpleNamespace(region_name=region)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    @property
    def finished_at(self) -> float:
        assert self.started_at is not None
        return self.started_at + self.duration_s

    def start_query_execution(self, **_request) -> dict:
        self.calls["StartQueryExecution"] += 1
        self.started_at = self.now
        return {"QueryExecutionId": "simulated-query"}

    def get_query_execution(self, QueryExecutionId: str) -> dict:
        self.calls["GetQueryExecution"] += 1
        done = self.now >= self.finished_at
        if done and self.detected_at is None:
            self.detected_at = self.now
        return {
            "QueryExecution": {
                "QueryExecutionId": QueryExecutionId,
                "StatementType": "DML",
                "Status": {"State": "SUCCEEDED" if done else "RUNNING"},
                "ResultConfiguration": {"OutputLocation": f"s3://results/{QueryExecutionId}.csv"},
                "Statistics": {"DataScannedInBytes": 1024, "EngineExecutionTimeInMillis": int(self.duration_s * 1000)},
            }
        }

    def get_query_results(self, **_request) -> dict:
        self.calls["GetQueryResults"] += 1
        return {
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": "users"}]}, {"Data": [{"VarCharValue": "3"}]}],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": "users", "Label": "users", "Type": "bigint"}]},
            }
        }

    def stop_query_execution(self, QueryExecutionId: str) -> dict:
        self.calls["StopQueryExecution"] += 1
        return {}


SIMULATED_QUERY = Query(
    name="simulated",
    text="SELECT COUNT(DISTINCT user_id) AS users FROM health_records WHERE recorded_at >= ? AND recorded_at < ?",
    parameters=(datetime(2026, 11, 10, 15), datetime(2026, 11, 11, 15)),
)


def simulate(duration_s: float, seed: int, **engine_settings) -> SimulatedAthena:
    """Run one query that takes `duration_s` on the simulated Athena; the fake keeps the counts."""
    fake = SimulatedAthena(duration_s)
    engine = AthenaQueryEngine(
        catalog="AwsDataCatalog",
        database="health_logger_prod_health_logs",
        workgroup="primary",
        output_location="s3://results/",
        client=fake,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(seed),
        **engine_settings,
    )
    engine.run(SIMULATED_QUERY)
    return fake


def polling_figures(durations=(1, 10, 100), seeds: int = 50) -> dict[str, float]:
    """Worst case over `seeds` jitter draws, per query duration: GetQueryExecution calls, all Athena calls
    (with the start and the results), and the delay between completion and detection over the duration.
    The unsuffixed names are the 100 s query's, which the targets are set for."""
    figures: dict[str, float] = {}
    for duration in durations:
        runs = [simulate(duration, seed) for seed in range(seeds)]
        suffix = "" if duration == 100 else f"_{duration}s"
        figures[f"athena_polls_per_query{suffix}"] = max(run.calls["GetQueryExecution"] for run in runs)
        figures[f"athena_api_calls_per_query{suffix}"] = max(sum(run.calls.values()) for run in runs)
        figures[f"athena_detect_delay_ratio{suffix}"] = round(
            max((run.detected_at - run.finished_at) / duration for run in runs), 4
        )
    return figures
