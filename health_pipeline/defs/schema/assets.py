import dagster as dg

from health_pipeline.defs.common import OWNER
from health_pipeline.defs.resources import DesiredSchemaResource, HealthTableResource
from health_pipeline.defs.table.assets import health_records
from health_pipeline.schema.drift import NEEDS_PERSON, diff_schemas
from health_pipeline.schema.model import TableSchema


def _column_schema(schema: TableSchema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.glue_type) for c in schema.columns])


@dg.asset(
    deps=[health_records],
    group_name="schema",
    kinds={"iceberg", "terraform"},
    owners=[OWNER],
)
def iceberg_schema(
    context: dg.AssetExecutionContext, desired_schema: DesiredSchemaResource, health_table: HealthTableResource
) -> dg.MaterializeResult:
    """The schema state of health_records: the columns Terraform declares (desired) beside the live
    Iceberg schema, and the drift between them. `terraform apply` does not change the Iceberg metadata;
    when this shows drift, the schema_migration job (or the README runbook) must follow. Its data version
    is the live schema's fingerprint, so a migration marks the daily summaries stale."""
    desired = desired_schema.read()
    live = health_table.live_schema()
    if live is None:
        context.log.info("the table does not exist yet; it is created from Terraform on first delivery")
    live_or_empty = live or TableSchema(())
    drift = diff_schemas(desired, live_or_empty) if live is not None else []
    fingerprint = live_or_empty.fingerprint if live is not None else "absent"
    drift_rows = [dg.TableRecord({k: v or "" for k, v in item.as_dict().items()}) for item in drift]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(fingerprint),
        metadata={
            "table": health_table.identifier(),
            "desired_schema": dg.TableSchemaMetadataValue(_column_schema(desired)),
            "live_schema": dg.TableSchemaMetadataValue(_column_schema(live_or_empty)),
            "dagster/column_schema": dg.TableSchemaMetadataValue(_column_schema(live_or_empty)),
            "desired_fingerprint": desired.fingerprint,
            "live_fingerprint": fingerprint,
            "in_sync": live is not None and not drift,
            "drift_count": len(drift),
            "needs_person": sum(item.kind == NEEDS_PERSON for item in drift),
            "drift": dg.TableMetadataValue(
                records=drift_rows,
                schema=dg.TableSchema(
                    columns=[
                        dg.TableColumn(name, "string")
                        for name in ("column", "kind", "desired_type", "live_type", "reason")
                    ]
                ),
            ),
        },
    )
