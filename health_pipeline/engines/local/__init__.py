"""The embedded default (`HEALTH_PIPELINE_MODE=local`): PyIceberg on SQLite and files, DuckDB for the
SQL, a delivery stream with Firehose's semantics, CSV files. No account, no network, no server.

`LocalStack` has the same parts as `engines.aws.AwsStack`; nothing connects or creates a file until a
part is first used. The parts that write (the stream, maintenance, migrations) are imported when first
used: a process that only queries does not load PyIceberg's writers, SQLAlchemy or pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

from health_pipeline.engines.desired import TerraformDesired
from health_pipeline.engines.local.alert_destination import LocalAlertFiles
from health_pipeline.engines.local.export_store import LocalExportStore, export_root
from health_pipeline.engines.local.liveness import LocalLivenessFiles
from health_pipeline.engines.local.query_engine import DuckDBQueryEngine
from health_pipeline.engines.local.table import LocalIcebergTable

if TYPE_CHECKING:
    from health_pipeline.engines.local.delivery_monitor import LocalDeliveryMonitor
    from health_pipeline.engines.local.delivery_stream import LocalDeliveryStream
    from health_pipeline.engines.local.erasure import LocalErasure
    from health_pipeline.engines.local.maintenance import LocalTableMaintenance
    from health_pipeline.engines.local.schema_target import LocalSchemaTarget


@dataclass
class LocalStack(TerraformDesired):
    query_kind: ClassVar[str] = DuckDBQueryEngine.engine
    export_kinds: ClassVar[frozenset[str]] = LocalExportStore.kinds

    @cached_property
    def table(self) -> LocalIcebergTable:
        s = self.settings
        return LocalIcebergTable(s.catalog_dir, s.warehouse_dir, s.database, s.table)

    @cached_property
    def query_engine(self) -> DuckDBQueryEngine:
        return DuckDBQueryEngine(self.table, self.settings.query_spill_dir, self.settings.local_query_memory_mb)

    @cached_property
    def export_store(self) -> LocalExportStore:
        return LocalExportStore(export_root(self.settings.export_uri))

    @cached_property
    def summary_store(self) -> LocalExportStore:
        """Each day's summary rows (Parquet) between daily_health_summary and its export and checks."""
        return LocalExportStore(self.settings.home / "summaries")

    @cached_property
    def delivery_stream(self) -> LocalDeliveryStream:
        from health_pipeline.engines.local.delivery_stream import LocalDeliveryStream

        return LocalDeliveryStream(self.settings.delivery_dir, self.table, self.desired_schema)

    @cached_property
    def delivery_monitor(self) -> LocalDeliveryMonitor:
        from health_pipeline.engines.local.delivery_monitor import LocalDeliveryMonitor

        return LocalDeliveryMonitor(self.delivery_stream)

    @cached_property
    def maintenance(self) -> LocalTableMaintenance:
        from health_pipeline.engines.local.maintenance import LocalTableMaintenance

        return LocalTableMaintenance(self.table, self.delivery_stream)

    @cached_property
    def schema_target(self) -> LocalSchemaTarget:
        from health_pipeline.engines.local.schema_target import LocalSchemaTarget

        return LocalSchemaTarget(self.table, self.desired_schema, self.query_engine, self.desired_layout)

    @cached_property
    def alert_destination(self) -> LocalAlertFiles:
        return LocalAlertFiles(self.settings.alerts_dir)

    @cached_property
    def liveness(self) -> LocalLivenessFiles:
        return LocalLivenessFiles(self.settings.watch_dir)

    @cached_property
    def erasure(self) -> LocalErasure:
        from health_pipeline.engines.local.erasure import LocalErasure

        s = self.settings
        return LocalErasure(
            self.table, self.delivery_stream, self.maintenance, self.summary_store, s.home, self.query_engine, s.table
        )
