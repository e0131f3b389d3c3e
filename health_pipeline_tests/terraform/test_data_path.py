"""The data path's Terraform: S3 Tables (guarded, laid out), Glue, Firehose, the producer Lambda, Athena
and its results bucket, and the bounds an erasure relies on."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from health_pipeline.aws_permissions import LAMBDA_ROLE_ACTIONS
from health_pipeline.schema import read_desired_layout
from health_pipeline.schema.layout import PartitionField, SortField, TableLayout
from health_pipeline.schema.terraform import _unquote
from health_pipeline_tests.support.terraform_hcl import (
    PROFILES,
    TERRAFORM_DIR,
    UNSCOPABLE_ACTIONS,
    Stack,
    block,
    copy,
    edited_copy,
    everywhere,
    lifecycle,
    statements,
    text,
)

ATHENA_MIN_CUTOFF = 10 * 1024 * 1024

# health_records as Terraform must declare it: one partition per UTC day, recorded_at ascending.
TABLE_LAYOUT = TableLayout(
    (PartitionField("recorded_at", "day"),), (SortField("recorded_at", "identity", "asc", "nulls-first"),)
)


def check_firehose_delivery(stack: Stack) -> None:
    stream = stack.resource("firehose", "aws_kinesis_firehose_delivery_stream", "this")
    assert stack.value("firehose", stream["destination"]) == "iceberg", "the stream must deliver to Iceberg"
    iceberg = block(stream, "iceberg_configuration")
    size = stack.value("firehose", iceberg.get("buffering_size"))
    interval = stack.value("firehose", iceberg.get("buffering_interval"))
    assert size == 5, f"Firehose buffering_size is {size!r} MB; the pipeline (and the local stream) buffer 5 MB"
    assert interval == 300, f"Firehose buffering_interval is {interval!r} s; the pipeline buffers 300 s"
    table = block(iceberg, "destination_table_configuration")
    assert table.get("database_name") and table.get("table_name"), "the destination table is not configured"
    errors = block(iceberg, "s3_configuration")
    prefix = stack.value("firehose", errors.get("error_output_prefix", ""))
    assert isinstance(prefix, str) and prefix.endswith("/") and not prefix.startswith("${"), (
        f"error_output_prefix is {prefix!r}: rejected records need a fixed prefix the delivery check can list"
    )
    assert stack.value("firehose", iceberg.get("s3_backup_mode")) == "FailedDataOnly"
    logging = block(iceberg, "cloudwatch_logging_options")
    assert logging.get("enabled") is True and logging.get("log_group_name"), "CloudWatch logging must be on"


def check_firehose_role_scope(stack: Stack) -> None:
    prefix = stack.value("firehose", "${var.error_output_prefix}")
    for statement in statements(stack, "firehose", "delivery"):
        actions = {_unquote(a) for a in statement["actions"]}
        resources = [str(stack.value("firehose", r)) for r in statement["resources"]]
        if "*" in resources:
            assert actions <= UNSCOPABLE_ACTIONS, f"Firehose role grants {sorted(actions)} on *"
        if actions & {"s3:PutObject", "s3:GetObject"}:
            assert all(r.endswith(f"/{prefix}*") for r in resources), f"Firehose writes outside {prefix}: {resources}"
        if any(a.startswith("glue:") for a in actions):
            assert not any(r.endswith("*") for r in resources), f"Firehose's Glue grant is not scoped: {resources}"


def check_s3tables_guarded(stack: Stack) -> None:
    for type_name, name in (
        ("aws_s3tables_table_bucket", "this"),
        ("aws_s3tables_namespace", "this"),
        ("awscc_s3tables_table", "health_records"),
    ):
        body = stack.resource("s3tables", type_name, name)
        assert lifecycle(body).get("prevent_destroy") is True, f"{type_name}.{name} lacks prevent_destroy = true"
    table = stack.resource("s3tables", "awscc_s3tables_table", "health_records")
    ignored = [_unquote(v) for v in lifecycle(table).get("ignore_changes", [])]
    assert "iceberg_metadata" in ignored, (
        "iceberg_metadata is create-only: a schema or layout change in it would plan a replacement that drops the table"
    )
    metadata = table.get("iceberg_metadata") or {}
    fields = str((metadata.get("iceberg_schema") or {}).get("schema_field_list", ""))
    assert "local.columns" in fields, "the table must be created with the declared columns (local.columns)"
    for kind in ("compaction", "snapshot_management"):
        status = stack.value("s3tables", (table.get(kind) or {}).get("status", ""))
        assert status == "enabled", f"table maintenance {kind} is {status!r}, not deliberately enabled"
    # AWS::S3Tables::Table has no encryption of its own: the table takes its bucket's.
    bucket = stack.resource("s3tables", "aws_s3tables_table_bucket", "this")
    assert (bucket.get("encryption_configuration") or {}).get("sse_algorithm"), (
        "the table bucket's encryption is not set"
    )
    # The first declaration (aws_s3tables_table) is forgotten, never destroyed.
    assert not everywhere(stack, "resource", "aws_s3tables_table"), "health_records is declared twice"
    removed = [
        removal
        for removal in stack.doc("s3tables").get("removed", [])
        if "aws_s3tables_table." in text(removal["from"])
    ]
    assert removed and all(block(removal, "lifecycle").get("destroy") is False for removal in removed), (
        "dropping aws_s3tables_table from the configuration would destroy the table: keep its removed block with"
        " destroy = false"
    )


def check_table_layout(stack: Stack) -> None:
    """health_records is partitioned by day(recorded_at) and sorted by recorded_at ascending, as the
    code reads it from the Terraform (the desired layout `schema status` compares the live one with),
    and the fields name their source column by the id the schema gives it."""
    layout = read_desired_layout(stack.root / "modules" / "s3tables")
    assert layout == TABLE_LAYOUT, f"health_records is declared {layout.partition_text} / {layout.sort_text}"
    metadata = stack.resource("s3tables", "awscc_s3tables_table", "health_records")["iceberg_metadata"]
    schema_fields = text(metadata["iceberg_schema"]["schema_field_list"])
    assert re.search(r"id\s*=\s*index \+ 1", schema_fields), "schema field ids must be the columns' positions from 1"
    field_ids = text(stack.locals("s3tables").get("field_id", ""))
    assert re.search(r"for index, column in local\.columns : column\.name => index \+ 1", field_ids), (
        "local.field_id must give each column its schema field id"
    )
    spec = metadata["iceberg_partition_spec"]
    assert all(int(field["field_id"]) >= 1000 for field in spec["fields"]), "partition field ids start at 1000"
    assert stack.value("s3tables", metadata["iceberg_sort_order"].get("order_id")) >= 1, "sort order 0 is unsorted"


def check_lambda_role(stack: Stack) -> None:
    """The producer's role may do exactly what the handler calls, each on its one resource: put to the
    stream, read the Glue table's columns, write its own log. Only Lambda assumes it."""
    function = stack.resource("lambda", "aws_lambda_function", "this")
    assert text(function["role"]) == "${aws_iam_role.this.arn}", "the function must run as the module's own role"
    assume = statements(stack, "lambda", "assume")
    principals = [_unquote(i) for statement in assume for p in statement["principals"] for i in p["identifiers"]]
    assert principals == ["lambda.amazonaws.com"], f"the producer's role is assumed by {principals}"
    policies = stack.typed("lambda", "resource", "aws_iam_role_policy")
    own = [body for body in policies.values() if text(body["role"]) == "${aws_iam_role.this.id}"]
    documents = [text(body["policy"]) for body in own]
    # Beside its own document, the iam access mode's S3 Tables reads (test_access_modes checks them).
    assert documents[:1] == ["${data.aws_iam_policy_document.lambda.json}"] and set(documents[1:]) <= {
        "${data.aws_iam_policy_document.s3tables_iam_mode[0].json}"
    }, f"the producer's role has the policies {documents}"
    granted: dict[str, list[str]] = {}
    for statement in statements(stack, "lambda", "lambda"):
        assert _unquote(statement.get("effect", '"Allow"')) == "Allow"
        actions = {_unquote(a) for a in statement["actions"]}
        assert not any("*" in a for a in actions), f"wildcard action in the producer's policy: {sorted(actions)}"
        resources = statement["resources"]
        if not isinstance(resources, list):  # a local list
            resources = stack.locals("lambda")[text(resources).removeprefix("${local.").removesuffix("}")]
        resources = [text(r) for r in resources]
        for action in actions:
            granted.setdefault(action, []).extend(resources)
    assert set(granted) == LAMBDA_ROLE_ACTIONS, (
        f"the producer's role grants {sorted(set(granted) - LAMBDA_ROLE_ACTIONS)} the handler does not call and"
        f" lacks {sorted(LAMBDA_ROLE_ACTIONS - set(granted))}"
    )
    assert granted["firehose:PutRecordBatch"] == ["${var.stream_arn}"], "PutRecordBatch on the stream only"
    glue = granted["glue:GetTable"]
    assert all("*" not in r for r in glue) and len(glue) == 5, f"GetTable on {glue}"
    assert {r.rsplit(":", 1)[-1].split("/")[0] for r in glue} == {"catalog", "database", "table"}
    assert glue[-1].endswith(":table/${var.catalog}/${var.database_name}/${var.table_name}"), (
        f"GetTable on {glue[-1]}, not the table in the table bucket's catalog"
    )
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert granted[action] == ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"], f"{action} beyond its log"


def check_lambda_function(stack: Stack) -> None:
    """A current Python runtime on arm64, the package of `make lambda` pinned by its checksum, the
    handler's settings from the pipeline's modules, no reserved concurrency unless asked for (a
    reservation must leave 100 executions unreserved: new accounts cannot), a log group with retention."""
    function = stack.resource("lambda", "aws_lambda_function", "this")
    runtime = stack.value("lambda", function["runtime"])
    assert re.fullmatch(r"python3\.(1[2-9])", str(runtime)), f"runtime {runtime!r} is not a current Python"
    assert [_unquote(a) for a in function["architectures"]] == ["arm64"], "the function must run on arm64"
    assert stack.value("lambda", function["handler"]) == "health_pipeline.lambda_handler.handler"
    assert text(function["filename"]) == "${var.package_path}"
    assert text(function["source_code_hash"]) == "${var.package_base64sha256}"
    args = stack.call_args("lambda")
    assert "dist/health_pipeline_lambda.zip" in str(stack.value(None, args["package_path"])), "not make lambda's zip"
    concurrency = stack.value("lambda", function["reserved_concurrent_executions"])
    assert concurrency is None, (
        f"the producer reserves {concurrency!r} executions by default; an account must keep 100 unreserved, so a"
        " new account's first apply fails: leave producer_reserved_concurrency null unless the operator sets it"
    )
    environment = block(function, "environment")["variables"]
    assert stack.value("lambda", environment["HEALTH_PIPELINE_MODE"]) == "aws"
    for name, wired in {
        "HEALTH_PIPELINE_FIREHOSE_STREAM": ("stream_name", "${module.firehose.stream_name}"),
        "HEALTH_PIPELINE_CATALOG": ("catalog", "${module.s3tables.athena_catalog}"),
        "HEALTH_PIPELINE_DATABASE": ("database_name", "${module.s3tables.namespace}"),
        "HEALTH_PIPELINE_TABLE": ("table_name", "${module.s3tables.table_name}"),
    }.items():
        assert text(environment[name]) == f"${{var.{wired[0]}}}" and text(args[wired[0]]) == wired[1], name
    assert text(args["stream_arn"]) == "${module.firehose.stream_arn}"
    group = stack.resource("lambda", "aws_cloudwatch_log_group", "this")
    assert stack.value("lambda", group["retention_in_days"]) >= 30, "the function's log must expire"
    assert text(block(function, "logging_config")["log_group"]) == "${aws_cloudwatch_log_group.this.name}"


def check_athena_workgroup(stack: Stack) -> None:
    workgroup = stack.resource("athena", "aws_athena_workgroup", "this")
    configuration = block(workgroup, "configuration")
    assert configuration.get("enforce_workgroup_configuration") is True, (
        "the workgroup must enforce its configuration, or a client can bypass the cutoff and the encryption"
    )
    cutoff = stack.value("athena", configuration.get("bytes_scanned_cutoff_per_query"))
    assert isinstance(cutoff, int) and cutoff >= ATHENA_MIN_CUTOFF, f"bytes_scanned_cutoff_per_query is {cutoff!r}"
    result = block(configuration, "result_configuration")
    assert result.get("encryption_configuration"), "Athena results must be encrypted"


def check_results_bucket(stack: Stack) -> None:
    encryption = stack.resource("athena", "aws_s3_bucket_server_side_encryption_configuration", "this")
    default = block(block(encryption, "rule"), "apply_server_side_encryption_by_default")
    assert stack.value("athena", default.get("sse_algorithm")) in {"AES256", "aws:kms"}, "the bucket is not encrypted"
    public_access = stack.resource("athena", "aws_s3_bucket_public_access_block", "this")
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert public_access.get(flag) is True, f"public access block: {flag} is not true"
    results_prefix = stack.value("athena", "${var.results_prefix}")
    lifecycle = stack.resource("athena", "aws_s3_bucket_lifecycle_configuration", "this")
    expiring = [
        stack.value("athena", block(rule, "expiration").get("days"))
        for rule in lifecycle.get("rule", [])
        if rule.get("expiration") and stack.value("athena", block(rule, "filter").get("prefix")) == results_prefix
    ]
    assert expiring and all(isinstance(d, int) and 1 <= d <= 90 for d in expiring), (
        f"no lifecycle rule expires the Athena results under {results_prefix!r} (found {expiring})"
    )


def check_erasure_bounds(stack: Stack) -> None:
    """An erasure's bytes are gone within a week (docs/operations/erasure.md): S3 Tables' snapshot age
    plus unreferenced-file removal's two delays; rejected records expire within 30 days; the workgroup
    can run DML on S3 Tables (no Requester Pays, results not KMS-encrypted)."""
    table = stack.resource("s3tables", "awscc_s3tables_table", "health_records")
    hours = stack.value("s3tables", table["snapshot_management"]["max_snapshot_age_hours"])
    bucket = stack.resource("s3tables", "aws_s3tables_table_bucket", "this")
    removal = bucket["maintenance_configuration"]["iceberg_unreferenced_file_removal"]
    days = [stack.value("s3tables", removal["settings"][k]) for k in ("unreferenced_days", "non_current_days")]
    assert all(isinstance(v, int) for v in (hours, *days)), f"unresolved maintenance settings {hours!r} {days!r}"
    assert hours >= 24 and _unquote(removal["status"]) == "enabled"
    assert hours / 24 + sum(days) <= 7, f"erased rows would stay {hours} h + {days} days, more than a week"
    error_prefix = stack.value(None, "${local.error_output_prefix}")
    expiring = stack.value("athena", "${var.expiring_prefixes}")
    assert isinstance(expiring, dict), f"unresolved expiring_prefixes {expiring!r}"
    # A key written `(local.x)` (an expression as a map key) reads back as `${(local.x)}`.
    expiring = {stack.value(None, re.sub(r"^\$\{\((.*)\)\}$", r"${\1}", k)): v for k, v in expiring.items()}
    assert 1 <= int(expiring.get(error_prefix, 10**6)) <= 30, (
        f"the error prefix {error_prefix!r} must expire within 30 days: {expiring!r}"
    )
    configuration = block(stack.resource("athena", "aws_athena_workgroup", "this"), "configuration")
    assert configuration.get("requester_pays_enabled") is False, "Athena runs no DML on S3 Tables with Requester Pays"
    encryption = block(block(configuration, "result_configuration"), "encryption_configuration")
    assert _unquote(encryption.get("encryption_option")) == "SSE_S3", "Athena runs no DML on S3 Tables with KMS results"


CHECKS = {
    check.__name__: check
    for check in (
        check_firehose_delivery,
        check_firehose_role_scope,
        check_s3tables_guarded,
        check_table_layout,
        check_lambda_role,
        check_lambda_function,
        check_athena_workgroup,
        check_results_bucket,
        check_erasure_bounds,
    )
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str) -> None:
    CHECKS[check](Stack(TERRAFORM_DIR, profile))


def test_a_pristine_copy_passes_every_check(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    pristine = Stack(copy(tmp_path))
    for check in CHECKS.values():
        check(pristine)


# (check, file under terraform/ or deploy/, original text, replacement): each edit must be caught by its check.
CARELESS_EDITS = [
    (
        "check_erasure_bounds",
        "envs/prod/main.tf",
        "(local.error_output_prefix) = 30",
        "(local.error_output_prefix) = 90",
    ),
    ("check_erasure_bounds", "modules/s3tables/variables.tf", "default     = 72", "default     = 168"),
    (
        "check_erasure_bounds",
        "modules/athena/main.tf",
        "requester_pays_enabled = false",
        "requester_pays_enabled = true",
    ),
    (
        "check_firehose_delivery",
        "envs/prod/main.tf",
        "size_mb          = 5",
        "size_mb          = 64",
    ),
    (
        "check_firehose_delivery",
        "modules/firehose/main.tf",
        'destination = "iceberg"',
        'destination = "extended_s3"',
    ),
    (
        "check_s3tables_guarded",
        "modules/s3tables/main.tf",
        "ignore_changes = [iceberg_metadata]",
        "ignore_changes = []",
    ),
    ("check_s3tables_guarded", "modules/s3tables/main.tf", "destroy = false", "destroy = true"),
    (
        "check_s3tables_guarded",
        "modules/s3tables/main.tf",
        "for index, column in local.columns : {",
        'for index, column in [{ name = "user_id", type = "string" }] : {',
    ),
    ("check_table_layout", "modules/s3tables/main.tf", 'transform = "day"', 'transform = "month"'),
    ("check_table_layout", "modules/s3tables/main.tf", 'direction  = "asc"', 'direction  = "desc"'),
    (
        "check_table_layout",
        "modules/s3tables/main.tf",
        'source_id = local.field_id["recorded_at"]\n          field_id',
        'source_id = local.field_id["user_id"]\n          field_id',
    ),
    # The producer Lambda: its role and its function.
    (
        "check_lambda_role",
        "modules/lambda/main.tf",
        'actions   = ["firehose:PutRecordBatch"]',
        'actions   = ["firehose:PutRecordBatch", "firehose:PutRecord"]',
    ),
    ("check_lambda_role", "modules/lambda/main.tf", 'actions   = ["glue:GetTable"]', 'actions   = ["glue:Get*"]'),
    ("check_lambda_role", "modules/lambda/main.tf", "resources = [var.stream_arn]", 'resources = ["*"]'),
    (
        "check_lambda_role",
        "modules/lambda/main.tf",
        '"${local.glue_arn}:table/${var.catalog}/${var.database_name}/${var.table_name}",',
        '"${local.glue_arn}:table/${var.catalog}/${var.database_name}/*",',
    ),
    (
        "check_lambda_function",
        "modules/lambda/main.tf",
        'architectures    = ["arm64"]',
        'architectures    = ["x86_64"]',
    ),
    ("check_lambda_function", "modules/lambda/variables.tf", 'default     = "python3.14"', 'default     = "python3.9"'),
    (
        "check_lambda_function",
        "envs/prod/main.tf",
        "stream_name          = module.firehose.stream_name",
        'stream_name          = "some-other-stream"',
    ),
    (
        "check_athena_workgroup",
        "modules/athena/main.tf",
        "enforce_workgroup_configuration    = true",
        "enforce_workgroup_configuration    = false",
    ),
    (
        "check_results_bucket",
        "modules/athena/main.tf",
        "restrict_public_buckets = true",
        "restrict_public_buckets = false",
    ),
    (
        "check_firehose_role_scope",
        "modules/firehose/main.tf",
        "resources = [local.error_objects]",
        'resources = ["${var.error_bucket_arn}/*"]',
    ),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, original: str, replacement: str) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited))


def test_every_s3tables_prevent_destroy_removal_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy)
    main = copy / "modules" / "s3tables" / "main.tf"
    source = main.read_text(encoding="utf-8")
    occurrences = [m.start() for m in re.finditer(r"prevent_destroy = true", source)]
    assert len(occurrences) == 3
    for start in occurrences:
        edited = source[:start] + "prevent_destroy = false" + source[start + len("prevent_destroy = true") :]
        main.write_text(edited, encoding="utf-8")
        with pytest.raises(AssertionError, match="prevent_destroy"):
            check_s3tables_guarded(Stack(copy))
