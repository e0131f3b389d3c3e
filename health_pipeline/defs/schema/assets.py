import dagster as dg
from pydantic import Field

from health_pipeline.defs.common import HEALTH_RECORDS, OWNER, machine_faults
from health_pipeline.schema.migrate import migrate
from health_pipeline.schema.model import TableSchema
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.stack import Stack

DRIFT_COLUMNS = ("column", "kind", "desired_type", "live_type", "reason")


class SchemaMigrationConfig(dg.Config):
    migrate: bool = Field(
        default=False,
        description="Apply the plan's additive part before observing; the schema_migration job sets this.",
    )
    confirm: str = Field(
        default="",
        description="The plan fingerprint from `health-pipeline schema status`, to also apply allowed type"
        " promotions (int->bigint, float->double, wider decimal). Anything else is never applied.",
    )


def _column_schema(schema: TableSchema | None) -> dg.TableSchemaMetadataValue:
    columns = [] if schema is None else [dg.TableColumn(c.name, c.glue_type) for c in schema.columns]
    return dg.TableSchemaMetadataValue(dg.TableSchema(columns=columns))


def plan_metadata(plan: MigrationPlan) -> dict:
    """The three views side by side, the drift and the plan, as an operator reads them in the UI."""
    names = plan.desired.names + [
        c.name
        for schema in (plan.catalog, plan.live)
        if schema
        for c in schema.columns
        if plan.desired.get(c.name) is None
    ]
    names = list(dict.fromkeys(names))

    def type_in(schema: TableSchema | None, name: str) -> str:
        if schema is None:
            return "n/a"
        column = schema.get(name)
        return column.glue_type if column else "—"

    side_by_side = ["| column | desired (Terraform) | catalog (Glue) | live (Iceberg) |", "|---|---|---|---|"]
    side_by_side += [
        f"| {n} | {type_in(plan.desired, n)} | {type_in(plan.catalog, n) if plan.catalog else 'n/a'} | {type_in(plan.live, n)} |"
        for n in names
    ]
    if plan.desired_layout is not None:
        side_by_side += ["", "| layout | desired (Terraform) | live (Iceberg) |", "|---|---|---|"]
        side_by_side += [
            f"| {label} | {getattr(plan.desired_layout, part)} | "
            f"{getattr(plan.live_layout, part) if plan.live_layout else 'n/a'} |"
            for label, part in (("partition spec", "partition_text"), ("sort order", "sort_text"))
        ]
    ddl = plan.add_columns_ddl()
    layout = plan.as_dict()["layout"]
    return {
        "table": plan.table,
        "state": plan.state,
        "plan_fingerprint": plan.fingerprint,
        "desired_fingerprint": plan.desired.fingerprint,
        "live_fingerprint": plan.live.fingerprint if plan.live else "absent",
        "schemas": dg.MetadataValue.md("\n".join(side_by_side)),
        "desired_schema": _column_schema(plan.desired),
        "live_schema": _column_schema(plan.live),
        "dagster/column_schema": _column_schema(plan.live),
        "drift_count": len(plan.items),
        "additive": len(plan.additive),
        "needs_person": len(plan.needs_person),
        "drift": dg.TableMetadataValue(
            records=[dg.TableRecord({k: v or "" for k, v in item.as_dict().items()}) for item in plan.items],
            schema=dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in DRIFT_COLUMNS]),
        ),
        "planned_ddl": dg.MetadataValue.md(f"```sql\n{ddl}\n```" if ddl else "nothing additive to apply"),
        "desired_partition_spec": (layout["desired"] or {}).get("partition_spec", "n/a"),
        "desired_sort_order": (layout["desired"] or {}).get("sort_order", "n/a"),
        "live_partition_spec": (layout["live"] or {}).get("partition_spec", "n/a"),
        "live_sort_order": (layout["live"] or {}).get("sort_order", "n/a"),
    }


@dg.asset(
    deps=[HEALTH_RECORDS],
    group_name="schema",
    kinds={"iceberg", "terraform"},
    owners=[OWNER],
    pool="schema_migration",
)
def iceberg_schema(
    context: dg.AssetExecutionContext, config: SchemaMigrationConfig, stack: dg.ResourceParam[Stack]
) -> dg.MaterializeResult:
    """The schema state of health_records: desired (the Terraform Glue module), catalog (Glue's columns,
    aws mode) and live (the Iceberg metadata) side by side, the drift classified, and the migration plan;
    the partition spec and sort order, desired (the S3 Tables module) and live, too.
    `terraform apply` does not change the Iceberg metadata: when this shows additive drift, the
    schema_migration job (started by schema_drift_sensor) adds the columns and verifies them. Its data
    version is the live schema's fingerprint, so after a migration the daily summaries show as stale."""
    target = stack.schema_target
    migration: dict = {}
    if config.migrate:
        with machine_faults("iceberg_schema could not migrate the table", stack.settings.home):
            outcome = migrate(target, confirm=config.confirm or None, log=context.log.info)
        plan = outcome.after
        migration = {
            "migration_applied": dg.MetadataValue.md(
                "\n".join(f"- `{line}`" for line in outcome.applied) or "nothing to apply: already converged"
            ),
            "migration_plan_before": outcome.before.fingerprint,
            "migration_verification": dg.MetadataValue.json(outcome.verification or {}),
        }
        for item in outcome.left_for_a_person:
            context.log.warning(f"left for a person: {item.reason}")
    else:
        plan = target.read_plan()
    if plan.live is None:
        context.log.info("the table does not exist yet; it is created from Terraform on the first delivery")
    for item in plan.needs_person:
        context.log.warning(f"[{item.kind}] {item.reason}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(plan.live.fingerprint if plan.live else "absent"),
        metadata={**plan_metadata(plan), **migration},
    )
