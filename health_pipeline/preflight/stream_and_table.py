"""The delivery stream and the table, against what the deployment and the code need."""

from __future__ import annotations

from botocore.exceptions import ClientError

from health_pipeline.preflight.context import Preflight, error_code
from health_pipeline.preflight.deployment import STREAM_APPEND_ONLY, s3tables_bucket
from health_pipeline.preflight.results import CheckResult, failed, passed, warned
from health_pipeline.schema.drift import ADDITIVE
from health_pipeline.schema.layout import TableLayout
from health_pipeline.schema.plan import LAYOUT

TERRAFORM_FIX = "run `terraform apply` in terraform/envs/prod"


def check_stream(pf: Preflight) -> list[CheckResult]:
    """The stream: ACTIVE, an Iceberg destination on the configured table, AppendOnly, an error prefix."""
    name = pf.settings.firehose_stream
    try:
        stream = pf.stream
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return [
                failed(
                    "stream",
                    f"no delivery stream {name} in {pf.settings.aws_region}",
                    f"{TERRAFORM_FIX}, or set HEALTH_PIPELINE_FIREHOSE_STREAM to the stream's name",
                )
            ]
        raise
    results = []
    status = stream.get("DeliveryStreamStatus")
    if status == "ACTIVE":
        results.append(passed("stream status", f"{name} is ACTIVE"))
    else:
        failure = stream.get("FailureDescription", {}).get("Details", "")
        results.append(
            failed(
                "stream status",
                f"{name} is {status}" + (f": {failure}" if failure else ""),
                "wait for CREATING to end; a CREATING_FAILED stream must be fixed and re-created",
            )
        )
    destination = pf.iceberg_destination
    if destination is None:
        kinds = [k for d in stream.get("Destinations", []) for k in d if k.endswith("Description")]
        results.append(
            failed(
                "stream destination",
                f"{name} delivers to {', '.join(kinds) or 'nothing'}, not Iceberg",
                f"the stream must deliver to the Iceberg table: {TERRAFORM_FIX} (it replaces the stream)",
            )
        )
        return results
    results.append(_route(pf, destination))
    if destination.get("AppendOnly") is STREAM_APPEND_ONLY:
        results.append(passed("stream append_only", "AppendOnly is true: Direct PUT to Iceberg can scale"))
    else:
        results.append(
            failed(
                "stream append_only",
                f"AppendOnly is {destination.get('AppendOnly', 'not set')}: Direct PUT to Iceberg is capped per stream"
                " (1 MiB/s in most regions, Tokyo among them; 5 MiB/s in three US/EU regions)",
                "AppendOnly can be set only when a stream is created: re-create the stream from Terraform"
                " (terraform apply -replace on module.firehose.aws_kinesis_firehose_delivery_stream.this) while producers pause",
            )
        )
    s3 = destination.get("S3DestinationDescription", {})
    # A table's own S3ErrorOutputPrefix wins over the stream's (as the delivery monitor reads it).
    own = [t.get("S3ErrorOutputPrefix") for t in destination.get("DestinationTableConfigurationList", [])
           if t.get("DestinationTableName") == pf.settings.table]  # fmt: skip
    prefix, bucket = next((p for p in own if p), None) or s3.get("ErrorOutputPrefix"), s3.get("BucketARN", "")
    if prefix:
        results.append(passed("stream error output", f"failed records go to {bucket.split(':::')[-1]}/{prefix}"))
    else:
        results.append(
            failed(
                "stream error output",
                f"{name} has no error output prefix: failed records would"
                " mix with other objects and the firehose_delivery check would not find them",
                f"{TERRAFORM_FIX} (the stream's s3_configuration sets error_output_prefix)",
            )
        )
    return results


def _route(pf: Preflight, destination: dict) -> CheckResult:
    """The stream's catalog, database and table reach the configured table: directly in the S3 Tables
    catalog, or through a resource link in the default catalog (Firehose's documented prerequisite)."""
    s, arns = pf.settings, pf.arns
    catalog = destination.get("CatalogConfiguration", {}).get("CatalogARN", "")
    tables = [
        (t.get("DestinationDatabaseName"), t.get("DestinationTableName"))
        for t in destination.get("DestinationTableConfigurationList", [])
    ]
    found = f"catalog {catalog or '(none)'}, " + (", ".join(f"{d}.{t}" for d, t in tables) or "no table")
    if s3tables_bucket(s) is None:
        return warned(
            "stream destination",
            f"{found}; HEALTH_PIPELINE_CATALOG is {s.athena_catalog}, not an S3"
            " Tables catalog, so the route cannot be compared",
            "set HEALTH_PIPELINE_CATALOG to s3tablescatalog/<table bucket> (the health_pipeline_catalog output)",
        )
    if catalog == arns.s3tables_catalog_arn and (s.database, s.table) in tables:
        return passed("stream destination", f"{found}: the table in S3 Tables' catalog")
    if catalog == arns.default_catalog_arn:
        for database, table in tables:
            if table != s.table or database is None:
                continue
            try:
                target = pf.client("glue").get_database(Name=database)["Database"].get("TargetDatabase", {})
            except ClientError as err:
                if error_code(err) != "EntityNotFoundException":
                    raise
                continue  # no such database in the default catalog: the failure below names the route
            if target.get("CatalogId") == arns.glue_catalog_id and target.get("DatabaseName") == s.database:
                return passed(
                    "stream destination", f"{found}: resource link {database} to {s.athena_catalog}/{s.database}"
                )
    return failed(
        "stream destination",
        f"{found}; the pipeline reads {s.athena_catalog}/{s.database}.{s.table}",
        f"the stream must write the table the pipeline reads: {TERRAFORM_FIX}, or correct HEALTH_PIPELINE_CATALOG,"
        " _DATABASE and _TABLE",
    )


def check_table(pf: Preflight) -> list[CheckResult]:
    """The table through the configured catalog, its columns against Terraform's and its layout."""
    s = pf.settings
    where = f"{s.athena_catalog}/{s.database}.{s.table}"
    catalog_id = pf.arns.glue_catalog_id
    glue = pf.client("glue")
    try:
        glue.get_table(DatabaseName=s.database, Name=s.table, **({"CatalogId": catalog_id} if catalog_id else {}))
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        return [
            failed(
                "table",
                f"Glue has no table {where} (CatalogId {catalog_id or 'the account default'})",
                f"{TERRAFORM_FIX} (modules/s3tables creates it); check the S3 Tables integration with the"
                " Glue Data Catalog is enabled in this region, and HEALTH_PIPELINE_CATALOG",
            )
        ]
    results = [passed("table", f"{where} is in the Glue Data Catalog")]
    plan = pf.stack.schema_target.read_plan()
    columns = [item for item in plan.items if item.column != LAYOUT]
    for_a_person = [item.reason for item in columns if item.kind != ADDITIVE]
    if plan.live is None:
        results.append(
            failed(
                "table columns",
                f"{where} is in Glue but its Iceberg metadata could not be loaded",
                "check the table in the S3 Tables console; health-pipeline schema status shows the views",
            )
        )
    elif for_a_person:
        results.append(
            failed(
                "table columns",
                "; ".join(for_a_person),
                "a person decides: docs/schema-change-runbook.md (health-pipeline schema status shows the plan)",
            )
        )
    elif columns:
        added = ", ".join(f"{item.column} {item.desired_type}" for item in columns)
        results.append(
            warned(
                "table columns",
                f"Terraform declares columns the table lacks yet: {added}",
                "the schema_migration job adds them (schema_drift_sensor starts it), or launch it from the UI",
            )
        )
    else:
        results.append(passed("table columns", f"{len(plan.live.columns)} columns as Terraform declares"))
    desired, live = plan.desired_layout, plan.live_layout
    if desired is None:
        results.append(
            warned(
                "table layout",
                "not compared: the Terraform directory has no modules/s3tables",
                "set HEALTH_PIPELINE_TERRAFORM_DIR to the project's terraform/",
            )
        )
    elif live is None:
        pass  # the columns' line already says the live table could not be read
    elif desired == live:
        results.append(passed("table layout", _layout_text(live)))
    else:
        results.append(
            failed(
                "table layout",
                f"live {_layout_text(live)}; Terraform declares {_layout_text(desired)}",
                "docs/schema-change-runbook.md, 'A table laid out otherwise'",
            )
        )
    return results


def _layout_text(layout: TableLayout) -> str:
    return f"partitioned {layout.partition_text}, sorted {layout.sort_text}"
