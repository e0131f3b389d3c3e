"""The Terraform-vs-Iceberg pitfall, handled locally end to end: Terraform changes, Iceberg follows through the job."""

import dataclasses
import json
import shutil
from datetime import date

import dagster as dg
import pytest

from health_pipeline.definitions import build_definitions
from health_pipeline.delivery.producer import send_lines
from health_pipeline.schema import read_desired_layout
from health_pipeline.schema.layout import PartitionField, SortField, TableLayout
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan, UnsafeSchemaError, check_identifier
from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.support import run_cli
from health_pipeline_tests.support.s3tables_columns import set_column

RECORD = {
    "user_id": "u1",
    "recorded_at": "2026-11-11T08:00:00+09:00",
    "fatigue": 5,
    "mood": 6,
    "motivation": 7,
    "flags": 1,
}


@pytest.fixture
def terraform_copy(tmp_path):
    target = tmp_path / "terraform"
    # The columns (local.columns), the partition spec and the sort order: all in modules/s3tables.
    shutil.copytree(PROJECT_ROOT / "terraform" / "modules" / "s3tables", target / "modules" / "s3tables")
    return target


@pytest.fixture
def migrating(settings, terraform_copy, cli_env):
    settings = dataclasses.replace(settings, terraform_dir=terraform_copy)
    from health_pipeline.engines.local import LocalStack

    stack = LocalStack(settings)
    send_lines(stack.delivery_stream, stack.desired_schema(), [("t:1", (json.dumps(RECORD) + "\n").encode())])
    stack.delivery_stream.flush()
    env = {**cli_env, "HEALTH_PIPELINE_TERRAFORM_DIR": str(terraform_copy)}
    return settings, stack, env, build_definitions(settings)


def status(env) -> tuple[int, dict]:
    result = run_cli(env, "schema", "status", "--json")
    return result.returncode, json.loads(result.stdout)


def sensor_tick(defs, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources=defs.resources)
    return defs.resolve_sensor_def("schema_drift_sensor")(context), context.cursor


def test_additive_drift_is_migrated_and_verified(migrating, terraform_copy):
    settings, stack, env, defs = migrating
    instance = dg.DagsterInstance.ephemeral()
    day = "2026-11-11"
    assert dg.materialize([defs.get_assets_def("iceberg_schema")], instance=instance, resources=defs.resources).success
    summary_job = defs.resolve_job_def("daily_summary_job")
    assert summary_job.execute_in_process(partition_key=day, instance=instance).success
    assert status(env)[0] == 0

    set_column(terraform_copy, "sleep_hours", "double")  # `terraform apply` would stop here
    code, report = status(env)
    assert code == 3 and report["state"] == "additive_drift"
    assert report["ddl"]["add_columns"] == "ALTER TABLE health_records ADD COLUMNS (sleep_hours double)"

    first, cursor = sensor_tick(defs)
    assert isinstance(first, dg.RunRequest) and first.run_key == report["fingerprint"]
    again, _ = sensor_tick(defs, cursor)
    assert again.run_key == first.run_key  # the same run_key: Dagster starts one run, not two

    migration = defs.resolve_job_def("schema_migration")
    result = migration.execute_in_process(instance=instance, tags={"dagster/run_key": first.run_key})
    assert result.success
    meta = result.asset_materializations_for_node("iceberg_schema")[0].metadata
    assert "sleep_hours" in meta["migration_applied"].value
    assert meta["migration_verification"].value["columns"] == ["sleep_hours"]
    assert status(env)[0] == 0

    rows = stack.table.load().scan(selected_fields=("user_id", "sleep_hours")).to_arrow()
    assert rows["sleep_hours"].to_pylist() == [None]  # old rows read the new column as null

    # the summary was computed against the old schema version: Dagster shows it stale
    schema_event = instance.get_latest_materialization_event(dg.AssetKey("iceberg_schema"))
    summary_event = instance.get_latest_materialization_event(dg.AssetKey("daily_health_summary"))
    current = schema_event.asset_materialization.tags["dagster/data_version"]
    used = summary_event.asset_materialization.tags["dagster/input_data_version/iceberg_schema"]
    assert current != used and current == TableSchema.from_iceberg(stack.table.load().schema()).fingerprint

    second = migration.execute_in_process(instance=instance)
    assert second.success
    assert (
        "nothing to apply"
        in second.asset_materializations_for_node("iceberg_schema")[0].metadata["migration_applied"].value
    )
    in_sync, _ = sensor_tick(defs)
    assert isinstance(in_sync, dg.SkipReason) and "in sync" in in_sync.skip_message

    # a record with the new field is now accepted by the stream and summarised as before
    new = {**RECORD, "user_id": "u2", "sleep_hours": 7.5}
    report = send_lines(stack.delivery_stream, stack.desired_schema(), [("t:2", (json.dumps(new) + "\n").encode())])
    assert report.accepted == 1
    stack.delivery_stream.flush()
    assert summary_job.execute_in_process(partition_key=day, instance=instance).success


def test_a_type_change_needs_a_person_and_is_not_applied(migrating, terraform_copy):
    settings, stack, env, defs = migrating
    set_column(terraform_copy, "mood", "string", replace="int")
    code, report = status(env)
    assert code == 4 and report["state"] == "needs_person"
    assert "Options:" in report["drift"][0]["reason"]
    tick, _ = sensor_tick(defs)
    assert isinstance(tick, dg.SkipReason) and "mood" in tick.skip_message
    assert defs.resolve_job_def("schema_migration").execute_in_process().success  # a plain run
    assert stack.table.live_schema().get("mood").glue_type == "int"  # unapplied
    confirmed = defs.resolve_job_def("schema_migration").execute_in_process(
        run_config={"ops": {"iceberg_schema": {"config": {"migrate": True, "confirm": report["fingerprint"]}}}},
        raise_on_error=False,
    )
    assert not confirmed.success  # refused with the steps, even when confirmed
    assert stack.table.live_schema().get("mood").glue_type == "int"


def test_a_promotion_applies_only_with_the_confirmed_fingerprint(migrating, terraform_copy):
    settings, stack, env, defs = migrating
    set_column(terraform_copy, "flags", "bigint", replace="int")
    code, report = status(env)
    assert code == 4 and report["drift"][0]["kind"] == "promotion"
    job = defs.resolve_job_def("schema_migration")
    assert job.execute_in_process().success
    assert stack.table.live_schema().get("flags").glue_type == "int"
    wrong = job.execute_in_process(
        run_config={"ops": {"iceberg_schema": {"config": {"migrate": True, "confirm": "0000000000000000"}}}},
        raise_on_error=False,
    )
    assert not wrong.success
    right = job.execute_in_process(
        run_config={"ops": {"iceberg_schema": {"config": {"migrate": True, "confirm": report["fingerprint"]}}}}
    )
    assert right.success
    assert stack.table.live_schema().get("flags").glue_type == "bigint"
    assert status(env)[0] == 0
    from health_pipeline.summary.days import daily_summary_query

    rows = stack.query_engine.run(daily_summary_query(date(2026, 11, 11), settings.zone, "health_records")).rows
    assert rows["flags_any"].to_pylist() == [1]


HOSTILE_NAMES = [
    "x); DROP TABLE health_records; --",
    "a b",
    "Select",
    "select",
    "ünïcode",
    "`x`",
    "x'y",
    "",
    "a" * 256,  # Athena: names of at most 255 characters (tables-databases-columns-names)
    "1abc",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_column_names_never_reach_sql(name):
    with pytest.raises(UnsafeSchemaError):
        check_identifier(name)
    desired = TableSchema((Column("user_id", "string"), Column("recorded_at", "timestamp"), Column(name, "string")))
    live = TableSchema((Column("user_id", "string"), Column("recorded_at", "timestamp")))
    plan = MigrationPlan.build("health_records", desired, live)
    assert plan.state == "needs_person" and plan.add_columns_ddl() is None


@pytest.mark.parametrize("glue_type", ["string) ; DROP TABLE t", "map<string,string>", "varchar(10)"])
def test_hostile_types_never_reach_sql(glue_type):
    desired = TableSchema((Column("recorded_at", "timestamp"), Column("note", glue_type)))
    live = TableSchema((Column("recorded_at", "timestamp"),))
    plan = MigrationPlan.build("health_records", desired, live)
    assert plan.state == "needs_person" and plan.add_columns_ddl() is None


def test_what_looks_like_a_rename_needs_a_person():
    desired = TableSchema((Column("recorded_at", "timestamp"), Column("energy", "int")))
    live = TableSchema((Column("recorded_at", "timestamp"), Column("motivation", "int")))
    plan = MigrationPlan.build("health_records", desired, live)
    assert plan.state == "needs_person" and not plan.additive
    assert {i.column for i in plan.needs_person} == {"energy", "motivation"}
    assert all("rename" in i.reason for i in plan.needs_person)


# -- the layout: partition spec and sort order ---------------------------------------------------------
DAY_SORTED = TableLayout((PartitionField("recorded_at", "day"),), (SortField("recorded_at"),))


def test_terraform_declares_day_partitions_sorted_by_recorded_at_and_the_local_table_has_them(migrating):
    settings, stack, env, _ = migrating
    assert read_desired_layout(PROJECT_ROOT / "terraform" / "modules" / "s3tables") == DAY_SORTED
    assert TableLayout.from_iceberg(stack.table.load()) == DAY_SORTED
    code, report = status(env)
    assert code == 0 and report["state"] == "in_sync"
    expected = {"partition_spec": "day(recorded_at)", "sort_order": "recorded_at ASC NULLS FIRST"}
    assert report["layout"] == {"desired": expected, "live": expected}
    shown = run_cli(env, "schema", "status").stdout.decode()
    assert "day(recorded_at)" in shown and "recorded_at ASC NULLS FIRST" in shown


def test_a_live_table_laid_out_otherwise_needs_a_person_with_the_fix_printed(migrating, terraform_copy):
    settings, stack, env, defs = migrating
    main = terraform_copy / "modules" / "s3tables" / "main.tf"
    text = main.read_text()
    assert text.count('transform = "day"') == 1
    main.write_text(text.replace('transform = "day"', 'transform = "hour"'))  # Terraform now wants hours

    code, report = status(env)
    assert code == 4 and report["state"] == "needs_person"
    assert report["layout"]["desired"]["partition_spec"] == "hour(recorded_at)"
    assert report["layout"]["live"]["partition_spec"] == "day(recorded_at)"
    (item,) = report["drift"]
    assert item["kind"] == "needs_person" and "ADD PARTITION FIELD hours(recorded_at)" in item["reason"]
    assert "recreate" in item["reason"]
    text_report = run_cli(env, "schema", "status")
    assert text_report.returncode == 4 and b"hour(recorded_at)" in text_report.stdout

    # The asset shows both layouts; the sensor names the drift and starts nothing; the job leaves it.
    result = dg.materialize([defs.get_assets_def("iceberg_schema")], resources=defs.resources)
    meta = result.asset_materializations_for_node("iceberg_schema")[0].metadata
    assert meta["desired_partition_spec"].value == "hour(recorded_at)"
    assert meta["live_partition_spec"].value == "day(recorded_at)"
    assert meta["live_sort_order"].value == "recorded_at ASC NULLS FIRST" and meta["needs_person"].value == 1
    tick, _ = sensor_tick(defs)
    assert isinstance(tick, dg.SkipReason) and "needs a person" in tick.skip_message
    assert defs.resolve_job_def("schema_migration").execute_in_process().success
    assert TableLayout.from_iceberg(stack.table.load()) == DAY_SORTED  # untouched


def test_layout_drift_does_not_block_an_additive_migration():
    desired = TableSchema((Column("recorded_at", "timestamp"), Column("energy", "int")))
    live = TableSchema((Column("recorded_at", "timestamp"),))
    plan = MigrationPlan.build("health_records", desired, live, desired_layout=DAY_SORTED, live_layout=TableLayout())
    assert plan.state == "needs_person" and [i.column for i in plan.additive] == ["energy"]
    (layout,) = plan.needs_person
    assert (layout.desired_type, layout.live_type) == (
        "day(recorded_at) / recorded_at ASC NULLS FIRST",
        "unpartitioned / unsorted",
    )
    assert "ADD PARTITION FIELD days(recorded_at)" in layout.reason and "WRITE ORDERED BY recorded_at" in layout.reason
    same = MigrationPlan.build("health_records", desired, live, desired_layout=DAY_SORTED, live_layout=DAY_SORTED)
    assert same.state == "additive_drift" and same.fingerprint != plan.fingerprint


def test_the_readmes_in_place_fix_makes_an_unpartitioned_table_converge(settings, cli_env):
    # The table as the first Terraform created it (no partition spec, no sort order), then the
    # The runbook's PyIceberg steps (docs/schema-change-runbook.md) (here on the local catalog; on AWS through the S3 Tables REST endpoint).
    from pyiceberg.table.sorting import NullOrder
    from pyiceberg.transforms import DayTransform, IdentityTransform

    from health_pipeline.engines.local import LocalStack

    stack = LocalStack(settings)
    catalog = stack.table.catalog()
    catalog.create_namespace(settings.database)
    table = catalog.create_table(stack.table.identifier, schema=stack.desired_schema().to_iceberg())
    code, report = status(cli_env)
    assert code == 4 and report["layout"]["live"] == {"partition_spec": "unpartitioned", "sort_order": "unsorted"}

    with table.update_spec() as spec:
        spec.add_field("recorded_at", DayTransform(), "recorded_at_day")
    with table.update_sort_order() as order:
        order.asc("recorded_at", IdentityTransform(), NullOrder.NULLS_FIRST)
    code, report = status(cli_env)
    assert code == 0 and report["state"] == "in_sync"
    assert TableLayout.from_iceberg(stack.table.load()) == DAY_SORTED
