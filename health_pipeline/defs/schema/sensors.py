import dagster as dg

from health_pipeline.defs.schema.jobs import schema_migration
from health_pipeline.schema.plan import IN_SYNC, TABLE_ABSENT
from health_pipeline.stack import Stack


@dg.sensor(
    job=schema_migration,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts schema_migration when Terraform declares columns the live Iceberg table lacks.",
)
def schema_drift_sensor(context: dg.SensorEvaluationContext, stack: dg.ResourceParam[Stack]):
    """Compares the Terraform Glue module with the live Iceberg schema on every tick (a file read and a
    catalog lookup). Additive drift requests one schema_migration run per plan (run_key = the plan's
    fingerprint, so the next tick does not start a second); drift that needs a person is named in the
    skip reason and never applied. The cursor is the last plan fingerprint seen."""
    plan = stack.schema_target.read_plan()
    context.update_cursor(plan.fingerprint)
    if plan.state == TABLE_ABSENT:
        return dg.SkipReason(f"{plan.table} does not exist yet; it is created from Terraform on the first delivery")
    people = "; ".join(f"{i.column}: {i.reason}" for i in plan.needs_person)
    if plan.additive:
        if people:
            context.log.warning(f"drift that needs a person is left unapplied: {people}")
        return dg.RunRequest(
            run_key=plan.fingerprint,
            tags={
                "health-pipeline/plan": plan.fingerprint,
                "health-pipeline/add-columns": ",".join(i.column for i in plan.additive),
            },
        )
    if plan.state == IN_SYNC:
        return dg.SkipReason(f"in sync: {plan.table} matches Terraform (schema {plan.desired.fingerprint})")
    return dg.SkipReason(f"drift that needs a person, not applied (plan {plan.fingerprint}): {people}")
