import dagster as dg

from health_pipeline.defs.schema.assets import iceberg_schema

MIGRATION_TAG = "health-pipeline/exclusive"

# The migration is a run of iceberg_schema with migrate=True: it re-reads the live state, applies the
# additive part (or, with confirm=<fingerprint>, the allowed promotions), verifies, and records the
# new schema, whose fingerprint becomes the asset's data version.
schema_migration = dg.define_asset_job(
    "schema_migration",
    selection=[iceberg_schema],
    description=(
        "Bring the live Iceberg schema to what Terraform declares: additive columns automatically; type"
        " promotions only with config confirm=<plan fingerprint>; anything else is refused with the steps to take."
    ),
    config={"ops": {"iceberg_schema": {"config": {"migrate": True, "confirm": ""}}}},
    tags={MIGRATION_TAG: "schema_migration"},
)
