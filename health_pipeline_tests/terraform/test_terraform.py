"""The Terraform's safety invariants, read offline with python-hcl2, so a careless edit fails CI.

`terraform validate` needs the AWS provider from the registry, which this environment cannot reach;
these checks (plus `terraform fmt` below and checkov in scripts/lint.sh) stand in for it. Each
invariant is a `check_*` function over a `Stack` (a terraform/ tree, with the deploy/ beside it); the
tests run them on the repository's tree, and `test_a_careless_edit_is_caught` runs them on edited
copies to prove they can fail.

modules/dagster has two profiles (var.profile, from envs/prod's dagster_profile). A resource of one
profile only says so with `count = local.standard ? 1 : 0` (or `local.small`), a for_each one through
`local.components` or a `local.standard ? tomap({...}) : tomap({...})`. A `Stack` is read for one
profile: it sets dagster_profile as `terraform apply -var dagster_profile=...` would, and evaluates
those conditions as Terraform does (`==`, `cond ? a : b`, `coalesce`, `toset`/`tomap` literals), so
that `typed()` lists only the resources that exist in that profile, and every check runs on each
profile's own set of resources. An expression outside that subset is kept as text, and a check that
needs its value fails rather than guess.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
from functools import cached_property
from pathlib import Path

import hcl2
import pytest
import yaml

from health_pipeline.aws_permissions import DAGSTER_ROLE_ACTIONS, LAMBDA_ROLE_ACTIONS
from health_pipeline.schema import read_desired_layout
from health_pipeline.schema.layout import PartitionField, SortField, TableLayout
from health_pipeline.schema.terraform import _unquote
from health_pipeline.settings import PROJECT_ROOT, Settings, load_settings
from health_pipeline_tests.system.test_image import DOCKERFILE, dockerfile_instructions

TERRAFORM_DIR = PROJECT_ROOT / "terraform"
MODULES = ("s3tables", "firehose", "glue", "athena", "iam", "alarms", "alerts", "dagster", "lambda")
PROFILES = ("standard", "small")
# Actions AWS offers no resource-level permissions for: the only ones allowed on "*". ssmmessages
# (ECS Exec's Session Manager channels, the small profile's task role) has no resource types at all.
UNSCOPABLE_ACTIONS = {
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "lakeformation:GetDataAccess",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:GetMetricData",
    # Only in the health-pipeline namespace: test_watcher_alarms holds its cloudwatch:namespace condition.
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeNetworkInterfaces",
}
ATHENA_MIN_CUTOFF = 10 * 1024 * 1024
# Settings that describe the local machine, not the AWS deployment: Terraform does not output them.
LOCAL_ONLY_SETTINGS = {
    "HEALTH_PIPELINE_MODE",
    "HEALTH_PIPELINE_HOME",
    "HEALTH_PIPELINE_TIMEZONE",
    "HEALTH_PIPELINE_START_DATE",
    "HEALTH_PIPELINE_TERRAFORM_DIR",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB",
}
# Settings that are the operator's policy, not a resource Terraform makes: set where Dagster runs.
POLICY_SETTINGS = {"HEALTH_PIPELINE_RETENTION_DAYS"}
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
# envs/prod outputs for the operators of the Dagster deployment and of the app, not settings of the code.
OPERATOR_OUTPUT_PREFIX = "dagster_"
PRODUCER_OUTPUT_PREFIX = "producer_"
PRODUCER_OUTPUTS = {
    "producer_function_url": "function_url",
    "producer_function_name": "function_name",
    "producer_log_group": "log_group_name",
    "producer_invoke_policy_json": "invoke_policy_json",
}
# health_records as Terraform must declare it: one partition per UTC day, recorded_at ascending.
TABLE_LAYOUT = TableLayout(
    (PartitionField("recorded_at", "day"),), (SortField("recorded_at", "identity", "asc", "nulls-first"),)
)
ROLE_OUTPUT = "dagster_role_arn"
OPERATOR_OUTPUTS = {
    "dagster_ui_url": "ui_url",
    "dagster_oidc_redirect_uri": "oidc_redirect_uri",
    "dagster_alb_dns_name": "alb_dns_name",
    "dagster_ecr_repository_url": "ecr_repository_url",
    "dagster_cluster_name": "cluster_name",
    "dagster_service_names": "service_names",
    "dagster_run_task_network": "run_task_network",
    "dagster_log_groups": "log_groups",
    "dagster_database_endpoint": "database_endpoint",
    "dagster_database_secret_arn": "database_secret_arn",
}


class Stack:
    """A terraform/ tree as parsed HCL, with just enough evaluation to follow values from
    envs/prod through module inputs, locals, variable defaults, resource arguments and outputs."""

    def __init__(self, root: Path, profile: str | None = None) -> None:
        self.root = root
        self.deploy = root.parent / "deploy"
        self.profile = profile  # None: envs/prod's default
        self._docs: dict[str, dict[str, list]] = {}

    def doc(self, module: str | None) -> dict[str, list]:
        """The merged top-level blocks of a module's .tf files (None: envs/prod)."""
        key = module or ""
        if key not in self._docs:
            directory = self.root / "envs" / "prod" if module is None else self.root / "modules" / module
            merged: dict[str, list] = {}
            for tf_file in sorted(directory.glob("*.tf")):
                with tf_file.open(encoding="utf-8") as handle:
                    for kind, items in hcl2.load(handle).items():
                        merged.setdefault(kind, []).extend(items)
            self._docs[key] = merged
        return self._docs[key]

    def named(self, module: str | None, kind: str) -> dict[str, dict]:
        """`variable`, `output` or `module` blocks by name."""
        return {_unquote(name): body for item in self.doc(module).get(kind, []) for name, body in item.items()}

    def typed(self, module: str | None, kind: str, type_name: str) -> dict[str, dict]:
        """`resource` or `data` blocks of one type that exist in this profile (count 1), by name."""
        found: dict[str, dict] = {}
        for item in self.doc(module).get(kind, []):
            for rtype, named in item.items():
                if _unquote(rtype) == type_name:
                    found.update({_unquote(name): body for name, body in named.items() if self._exists(module, body)})
        return found

    def _exists(self, module: str | None, body: dict) -> bool:
        if "count" not in body:
            return True
        count = self.value(module, body["count"])
        assert count in (0, 1), f"count = {body['count']!r} is not 0 or 1 for profile {self.profile!r}"
        return count == 1

    def resource(self, module: str, type_name: str, name: str) -> dict:
        resources = self.typed(module, "resource", type_name)
        assert name in resources, f"modules/{module}: resource {type_name}.{name} is missing"
        return resources[name]

    def locals(self, module: str | None) -> dict:
        merged: dict = {}
        for block in self.doc(module).get("locals", []):
            merged.update(block)
        return merged

    @cached_property
    def calls(self) -> dict[str, str]:
        """envs/prod module call name -> module directory name."""
        return {name: Path(_unquote(body["source"])).name for name, body in self.named(None, "module").items()}

    def call_args(self, module: str) -> dict:
        for call, directory in self.calls.items():
            if directory == module:
                return self.named(None, "module")[call]
        raise AssertionError(f"envs/prod does not use modules/{module}")

    # -- evaluation --------------------------------------------------------------------------------
    def value(self, module: str | None, raw: object) -> object:
        """The value of an HCL expression in a module (None: envs/prod); references that cannot be
        known offline (ARNs, account ids) stay as `${...}` text."""
        if not isinstance(raw, str):
            return raw
        text = _unquote(raw)
        whole = _whole_expression(text)
        if whole is not None:
            return self._expression(module, whole)
        return _INTERPOLATION.sub(lambda m: str(self._expression(module, m.group(1).strip())), text)

    def _expression(self, module: str | None, expr: str) -> object:
        expr = expr.strip()
        if expr.startswith("(") and expr.endswith(")") and _top_level(expr[1:-1], "") is not None:
            expr = expr[1:-1].strip()
        ternary = _split_ternary(expr)
        if ternary:
            condition, when_true, when_false = ternary
            chosen = self._expression(module, condition)
            assert isinstance(chosen, bool), f"cannot decide {condition!r} offline (it is {chosen!r})"
            return self._literal_or_expression(module, when_true if chosen else when_false)
        equal = _top_level(expr, "==")
        if equal is not None:
            left, right = expr[:equal], expr[equal + 2 :]
            return self._literal_or_expression(module, left) == self._literal_or_expression(module, right)
        call = re.fullmatch(r"coalesce\((.*)\)", expr, re.DOTALL)
        if call:
            for argument in _split_arguments(call.group(1)):
                value = self._literal_or_expression(module, argument)
                if value not in (None, ""):
                    return value
            return None
        product = re.fullmatch(r"(\d+)\s*\*\s*(.+)", expr)
        if product:
            operand = self._expression(module, product.group(2))
            if not isinstance(operand, int | float):
                raise AssertionError(f"cannot multiply {operand!r} ({expr})")
            return int(product.group(1)) * operand
        if re.fullmatch(r"-?\d+", expr):
            return int(expr)
        parts = expr.split(".")
        if parts[0] == "var" and len(parts) == 2:
            return self._variable(module, parts[1])
        if parts[0] == "local":
            node: object = self.locals(module)
            for part in parts[1:]:
                if not isinstance(node, dict) or part not in node:
                    raise AssertionError(f"local.{'.'.join(parts[1:])} is not defined")
                node = node[part]
            return self.value(module, node)
        if parts[0] == "module" and len(parts) == 3 and module is None:
            target = self.calls[parts[1]]
            output = self.named(target, "output")[parts[2]]
            return self.value(target, output["value"])
        if parts[0].startswith(("aws_", "awscc_")) and len(parts) == 3 and module is not None:
            body = self.typed(module, "resource", parts[0]).get(parts[1], {})
            if parts[2] in body:
                return self.value(module, body[parts[2]])
        return "${" + expr + "}"

    def _literal_or_expression(self, module: str | None, text: str) -> object:
        """An HCL literal (null, a bool, a number, a quoted string, a list or object, in toset/tomap)
        as Python data; anything else evaluated as an expression."""
        text = text.strip()
        wrapped = re.fullmatch(r"(?:toset|tomap|tolist)\((.*)\)", text, re.DOTALL)
        if wrapped:
            text = wrapped.group(1).strip()
        if text in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[text]
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text[:1] in ('"', "[", "{"):
            parsed = hcl2.loads(f"x = {text}\n")["x"]
            return self.value(module, parsed) if isinstance(parsed, str) else parsed
        return self._expression(module, text)

    def _variable(self, module: str | None, name: str) -> object:
        if module is None and name == "dagster_profile" and self.profile is not None:
            return self.profile  # as `terraform apply -var dagster_profile=...`
        if module is not None:
            args = self.call_args(module)
            if name in args:
                return self.value(None, args[name])
        variable = self.named(module, "variable").get(name)
        assert variable is not None, f"{module or 'envs/prod'}: var.{name} is not declared"
        if module is None and "default" not in variable:
            return "${var." + name + "}"  # the operator's to give (tfvars): known only at plan time
        assert "default" in variable, f"modules/{module}: var.{name} has no value (no input, no default)"
        return self.value(module, variable["default"])


def _whole_expression(text: str) -> str | None:
    """The inside of `${...}` when that one interpolation is the whole text."""
    if not (text.startswith("${") and text.endswith("}")):
        return None
    depth = 0
    for index, char in enumerate(_unquoted_chars(text)):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return None
    return text[2:-1].strip()


def _unquoted_chars(text: str) -> list[str]:
    """The text's characters, those inside string literals replaced by spaces (so that brackets,
    `?`, `:` and `,` in strings are not taken for operators)."""
    chars, quoted, escaped = [], False, False
    for char in text:
        if quoted:
            chars.append(" ")
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        else:
            chars.append(char)
            quoted = char == '"'
    return chars


def _top_level(text: str, token: str) -> int | None:
    """Index of the first `token` outside brackets and strings (for "", whether the brackets of the
    text balance: 0 or None)."""
    depth = 0
    chars = _unquoted_chars(text)
    for index, char in enumerate(chars):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth < 0:
                return None
        elif token and depth == 0 and "".join(chars[index : index + len(token)]) == token:
            return index
    return (0 if depth == 0 else None) if not token else None


def _split_ternary(expr: str) -> tuple[str, str, str] | None:
    question = _top_level(expr, "?")
    if question is None:
        return None
    rest = expr[question + 1 :]
    colon = _top_level(rest, ":")
    assert colon is not None, f"a conditional without its `:`: {expr!r}"
    return expr[:question].strip(), rest[:colon].strip(), rest[colon + 1 :].strip()


def _split_arguments(text: str) -> list[str]:
    arguments = []
    while (comma := _top_level(text, ",")) is not None:
        arguments.append(text[:comma])
        text = text[comma + 1 :]
    return [*arguments, text]


def _block(body: dict, name: str) -> dict:
    blocks = body.get(name) or []
    assert len(blocks) == 1, f"expected one {name} block, found {len(blocks)}"
    return blocks[0]


def _statements(stack: Stack, module: str, document: str) -> list[dict]:
    policy = stack.typed(module, "data", "aws_iam_policy_document").get(document)
    assert policy is not None, f"modules/{module}: data.aws_iam_policy_document.{document} is missing"
    return policy.get("statement", [])


def _lifecycle(body: dict) -> dict:
    return _block(body, "lifecycle")


# -- the invariants --------------------------------------------------------------------------------
def check_module_layout(stack: Stack) -> None:
    for module in MODULES:
        for file_name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (stack.root / "modules" / module / file_name).is_file(), f"modules/{module}/{file_name} is missing"
    assert set(stack.calls.values()) == set(MODULES), f"envs/prod composes {sorted(stack.calls.values())}"


def check_firehose_delivery(stack: Stack) -> None:
    stream = stack.resource("firehose", "aws_kinesis_firehose_delivery_stream", "this")
    assert stack.value("firehose", stream["destination"]) == "iceberg", "the stream must deliver to Iceberg"
    iceberg = _block(stream, "iceberg_configuration")
    size = stack.value("firehose", iceberg.get("buffering_size"))
    interval = stack.value("firehose", iceberg.get("buffering_interval"))
    assert size == 5, f"Firehose buffering_size is {size!r} MB; the pipeline (and the local stream) buffer 5 MB"
    assert interval == 300, f"Firehose buffering_interval is {interval!r} s; the pipeline buffers 300 s"
    table = _block(iceberg, "destination_table_configuration")
    assert table.get("database_name") and table.get("table_name"), "the destination table is not configured"
    errors = _block(iceberg, "s3_configuration")
    prefix = stack.value("firehose", errors.get("error_output_prefix", ""))
    assert isinstance(prefix, str) and prefix.endswith("/") and not prefix.startswith("${"), (
        f"error_output_prefix is {prefix!r}: rejected records need a fixed prefix the delivery check can list"
    )
    assert stack.value("firehose", iceberg.get("s3_backup_mode")) == "FailedDataOnly"
    logging = _block(iceberg, "cloudwatch_logging_options")
    assert logging.get("enabled") is True and logging.get("log_group_name"), "CloudWatch logging must be on"


def check_firehose_role_scope(stack: Stack) -> None:
    prefix = stack.value("firehose", "${var.error_output_prefix}")
    for statement in _statements(stack, "firehose", "delivery"):
        actions = {_unquote(a) for a in statement["actions"]}
        resources = [str(stack.value("firehose", r)) for r in statement["resources"]]
        if "*" in resources:
            assert actions <= UNSCOPABLE_ACTIONS, f"Firehose role grants {sorted(actions)} on *"
        if actions & {"s3:PutObject", "s3:GetObject"}:
            assert all(r.endswith(f"/{prefix}*") for r in resources), f"Firehose writes outside {prefix}: {resources}"
        if any(a.startswith("glue:") for a in actions):
            assert not any(r.endswith("*") for r in resources), f"Firehose's Glue grant is not scoped: {resources}"


def check_glue_ignores_parameters(stack: Stack) -> None:
    table = stack.resource("glue", "aws_glue_catalog_table", "health_records")
    ignored = [_unquote(v) for v in _lifecycle(table).get("ignore_changes", [])]
    assert ignored == ["parameters"], (
        f"aws_glue_catalog_table.health_records ignore_changes is {ignored}: Glue rewrites metadata_location on"
        " every Iceberg commit, so [parameters] must be ignored or each apply reverts the table"
    )


def check_s3tables_guarded(stack: Stack) -> None:
    for type_name, name in (
        ("aws_s3tables_table_bucket", "this"),
        ("aws_s3tables_namespace", "this"),
        ("awscc_s3tables_table", "health_records"),
    ):
        body = stack.resource("s3tables", type_name, name)
        assert _lifecycle(body).get("prevent_destroy") is True, f"{type_name}.{name} lacks prevent_destroy = true"
    table = stack.resource("s3tables", "awscc_s3tables_table", "health_records")
    ignored = [_unquote(v) for v in _lifecycle(table).get("ignore_changes", [])]
    assert "iceberg_metadata" in ignored, (
        "iceberg_metadata is create-only: a schema or layout change in it would plan a replacement that drops the table"
    )
    metadata = table.get("iceberg_metadata") or {}
    fields = str((metadata.get("iceberg_schema") or {}).get("schema_field_list", ""))
    assert "var.columns" in fields, "the table must be created with the Glue module's columns (var.columns)"
    assert _text(stack.call_args("s3tables").get("columns")) == "${module.glue.columns}", (
        "the S3 Tables module's columns must come from the Glue module, the schema's source of truth"
    )
    for kind in ("compaction", "snapshot_management"):
        status = stack.value("s3tables", (table.get(kind) or {}).get("status", ""))
        assert status == "enabled", f"table maintenance {kind} is {status!r}, not deliberately enabled"
    # AWS::S3Tables::Table has no encryption of its own: the table takes its bucket's.
    bucket = stack.resource("s3tables", "aws_s3tables_table_bucket", "this")
    assert (bucket.get("encryption_configuration") or {}).get("sse_algorithm"), (
        "the table bucket's encryption is not set"
    )
    # The first declaration (aws_s3tables_table) is forgotten, never destroyed.
    assert not _everywhere(stack, "resource", "aws_s3tables_table"), "health_records is declared twice"
    removed = [
        block for block in stack.doc("s3tables").get("removed", []) if "aws_s3tables_table." in _text(block["from"])
    ]
    assert removed and all(_block(block, "lifecycle").get("destroy") is False for block in removed), (
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
    schema_fields = _text(metadata["iceberg_schema"]["schema_field_list"])
    assert re.search(r"id\s*=\s*index \+ 1", schema_fields), "schema field ids must be the columns' positions from 1"
    field_ids = _text(stack.locals("s3tables").get("field_id", ""))
    assert re.search(r"for index, column in var\.columns : column\.name => index \+ 1", field_ids), (
        "local.field_id must give each column its schema field id"
    )
    spec = metadata["iceberg_partition_spec"]
    assert all(int(field["field_id"]) >= 1000 for field in spec["fields"]), "partition field ids start at 1000"
    assert stack.value("s3tables", metadata["iceberg_sort_order"].get("order_id")) >= 1, "sort order 0 is unsorted"


def check_lambda_role(stack: Stack) -> None:
    """The producer's role may do exactly what the handler calls, each on its one resource: put to the
    stream, read the Glue table's columns, write its own log. Only Lambda assumes it."""
    function = stack.resource("lambda", "aws_lambda_function", "this")
    assert _text(function["role"]) == "${aws_iam_role.this.arn}", "the function must run as the module's own role"
    assume = _statements(stack, "lambda", "assume")
    principals = [_unquote(i) for statement in assume for p in statement["principals"] for i in p["identifiers"]]
    assert principals == ["lambda.amazonaws.com"], f"the producer's role is assumed by {principals}"
    policies = stack.typed("lambda", "resource", "aws_iam_role_policy")
    own = [body for body in policies.values() if _text(body["role"]) == "${aws_iam_role.this.id}"]
    assert [_text(body["policy"]) for body in own] == ["${data.aws_iam_policy_document.lambda.json}"]
    granted: dict[str, list[str]] = {}
    for statement in _statements(stack, "lambda", "lambda"):
        assert _unquote(statement.get("effect", '"Allow"')) == "Allow"
        actions = {_unquote(a) for a in statement["actions"]}
        assert not any("*" in a for a in actions), f"wildcard action in the producer's policy: {sorted(actions)}"
        resources = statement["resources"]
        if not isinstance(resources, list):  # a local list
            resources = stack.locals("lambda")[_text(resources).removeprefix("${local.").removesuffix("}")]
        resources = [_text(r) for r in resources]
        for action in actions:
            granted.setdefault(action, []).extend(resources)
    assert set(granted) == LAMBDA_ROLE_ACTIONS, (
        f"the producer's role grants {sorted(set(granted) - LAMBDA_ROLE_ACTIONS)} the handler does not call and"
        f" lacks {sorted(LAMBDA_ROLE_ACTIONS - set(granted))}"
    )
    assert granted["firehose:PutRecordBatch"] == ["${var.stream_arn}"], "PutRecordBatch on the stream only"
    glue = granted["glue:GetTable"]
    assert all("*" not in r for r in glue) and len(glue) == 3, f"GetTable on {glue}"
    assert {r.rsplit(":", 1)[-1].split("/")[0] for r in glue} == {"catalog", "database", "table"}
    assert glue[-1].endswith(":table/${var.glue_database_name}/${var.glue_table_name}")
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert granted[action] == ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"], f"{action} beyond its log"


def check_lambda_function(stack: Stack) -> None:
    """A current Python runtime on arm64, the package of `make lambda` pinned by its checksum, the
    handler's settings from the pipeline's modules, reserved concurrency, a log group with retention."""
    function = stack.resource("lambda", "aws_lambda_function", "this")
    runtime = stack.value("lambda", function["runtime"])
    assert re.fullmatch(r"python3\.(1[2-9])", str(runtime)), f"runtime {runtime!r} is not a current Python"
    assert [_unquote(a) for a in function["architectures"]] == ["arm64"], "the function must run on arm64"
    assert stack.value("lambda", function["handler"]) == "health_pipeline.lambda_handler.handler"
    assert _text(function["filename"]) == "${var.package_path}"
    assert _text(function["source_code_hash"]) == "${var.package_base64sha256}"
    args = stack.call_args("lambda")
    assert "dist/health_pipeline_lambda.zip" in str(stack.value(None, args["package_path"])), "not make lambda's zip"
    concurrency = stack.value("lambda", function["reserved_concurrent_executions"])
    assert isinstance(concurrency, int) and concurrency >= 1, f"reserved concurrency {concurrency!r}"
    environment = _block(function, "environment")["variables"]
    assert stack.value("lambda", environment["HEALTH_PIPELINE_MODE"]) == "aws"
    for name, wired in {
        "HEALTH_PIPELINE_FIREHOSE_STREAM": ("stream_name", "${module.firehose.stream_name}"),
        "HEALTH_PIPELINE_DATABASE": ("glue_database_name", "${module.glue.database_name}"),
        "HEALTH_PIPELINE_TABLE": ("glue_table_name", "${module.glue.table_name}"),
    }.items():
        assert _text(environment[name]) == f"${{var.{wired[0]}}}" and _text(args[wired[0]]) == wired[1], name
    assert _text(args["stream_arn"]) == "${module.firehose.stream_arn}"
    group = stack.resource("lambda", "aws_cloudwatch_log_group", "this")
    assert stack.value("lambda", group["retention_in_days"]) >= 30, "the function's log must expire"
    assert _text(_block(function, "logging_config")["log_group"]) == "${aws_cloudwatch_log_group.this.name}"


def check_entry_point_requires_auth(stack: Stack) -> None:
    """The app reaches the producer only through a function URL with AWS_IAM (SigV4) auth: no URL
    without it, no resource policy for everyone, no API Gateway route without an authorizer."""
    urls = _everywhere(stack, "resource", "aws_lambda_function_url")
    assert urls, "the producer has no entry point"
    for module, name, url in urls:
        auth = stack.value(module, url.get("authorization_type"))
        assert auth == "AWS_IAM", f"{module}: aws_lambda_function_url.{name} takes requests with {auth!r}"
    for module, name, permission in _everywhere(stack, "resource", "aws_lambda_permission"):
        principal = str(stack.value(module, permission.get("principal")))
        assert principal != "*" and stack.value(module, permission.get("function_url_auth_type", "")) != "NONE", (
            f"{module}: aws_lambda_permission.{name} lets anyone invoke the function"
        )
    for type_name in ("aws_apigatewayv2_route", "aws_api_gateway_method"):
        for module, name, route in _everywhere(stack, "resource", type_name):
            kind = stack.value(module, route.get("authorization_type", route.get("authorization", "NONE")))
            assert kind not in ("NONE", None), f"{module}: {type_name}.{name} takes unauthenticated requests"
    invoke = _statements(stack, "lambda", "invoke")
    assert {a for s in invoke for a in (_unquote(x) for x in s["actions"])} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    assert all(_text(r) == "${aws_lambda_function.this.arn}" for s in invoke for r in s["resources"])


def check_athena_workgroup(stack: Stack) -> None:
    workgroup = stack.resource("athena", "aws_athena_workgroup", "this")
    configuration = _block(workgroup, "configuration")
    assert configuration.get("enforce_workgroup_configuration") is True, (
        "the workgroup must enforce its configuration, or a client can bypass the cutoff and the encryption"
    )
    cutoff = stack.value("athena", configuration.get("bytes_scanned_cutoff_per_query"))
    assert isinstance(cutoff, int) and cutoff >= ATHENA_MIN_CUTOFF, f"bytes_scanned_cutoff_per_query is {cutoff!r}"
    result = _block(configuration, "result_configuration")
    assert result.get("encryption_configuration"), "Athena results must be encrypted"


def check_results_bucket(stack: Stack) -> None:
    encryption = stack.resource("athena", "aws_s3_bucket_server_side_encryption_configuration", "this")
    default = _block(_block(encryption, "rule"), "apply_server_side_encryption_by_default")
    assert stack.value("athena", default.get("sse_algorithm")) in {"AES256", "aws:kms"}, "the bucket is not encrypted"
    block = stack.resource("athena", "aws_s3_bucket_public_access_block", "this")
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert block.get(flag) is True, f"public access block: {flag} is not true"
    results_prefix = stack.value("athena", "${var.results_prefix}")
    lifecycle = stack.resource("athena", "aws_s3_bucket_lifecycle_configuration", "this")
    expiring = [
        stack.value("athena", _block(rule, "expiration").get("days"))
        for rule in lifecycle.get("rule", [])
        if rule.get("expiration") and stack.value("athena", _block(rule, "filter").get("prefix")) == results_prefix
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
    configuration = _block(stack.resource("athena", "aws_athena_workgroup", "this"), "configuration")
    assert configuration.get("requester_pays_enabled") is False, "Athena runs no DML on S3 Tables with Requester Pays"
    encryption = _block(_block(configuration, "result_configuration"), "encryption_configuration")
    assert _unquote(encryption.get("encryption_option")) == "SSE_S3", "Athena runs no DML on S3 Tables with KMS results"


def check_alarms(stack: Stack) -> None:
    alarms = {
        stack.value("alarms", body["metric_name"]): body
        for body in stack.typed("alarms", "resource", "aws_cloudwatch_metric_alarm").values()
    }
    interval = stack.value("firehose", "${var.buffering_interval_seconds}")
    expected = {"DeliveryToIceberg.FailedRowCount": 0, "DeliveryToIceberg.DataFreshness": 2 * interval}
    assert interval == 300, f"the alarms are sized for Firehose's 300 s buffer interval, not {interval!r}"
    for metric, threshold in expected.items():
        alarm = alarms.get(metric)
        assert alarm is not None, f"no alarm on {metric}"
        assert stack.value("alarms", alarm["namespace"]) == "AWS/Firehose"
        assert stack.value("alarms", alarm["comparison_operator"]) == "GreaterThanThreshold"
        actual = stack.value("alarms", alarm["threshold"])
        assert actual == threshold, f"{metric} alarm threshold is {actual!r}, expected {threshold}"
        dimensions = stack.value("alarms", alarm["dimensions"])
        assert isinstance(dimensions, dict) and "DeliveryStreamName" in dimensions, f"{metric} alarm names no stream"
    topic = alerts_topic(stack)
    for body in stack.typed("alarms", "resource", "aws_cloudwatch_metric_alarm").values():
        for field in ("alarm_actions", "ok_actions"):
            raw = body.get(field, [])
            if raw == "${var.alarm_actions}":
                actions = [stack.value(None, a) for a in stack.call_args("alarms").get("alarm_actions", [])]
            else:
                actions = [stack.value("alarms", a) for a in raw] if isinstance(raw, list) else [raw]
            assert actions == [topic], (
                f"{_unquote(body['alarm_name'])}: {field} is {actions!r}; every alarm's actions go to the alerts topic"
            )


def check_dagster_role_actions(stack: Stack) -> None:
    granted: set[str] = set()
    for statement in _statements(stack, "iam", "dagster"):
        assert _unquote(statement.get("effect", '"Allow"')) == "Allow", "the Dagster policy must only allow"
        actions = {_unquote(a) for a in statement["actions"]}
        assert not any("*" in a for a in actions), f"wildcard action in the Dagster policy: {sorted(actions)}"
        resources = [_unquote(r) for r in statement["resources"]]
        if "*" in resources:
            assert actions <= UNSCOPABLE_ACTIONS, f"{sorted(actions - UNSCOPABLE_ACTIONS)} granted on * but scopable"
        granted |= actions
    publishing = [
        st for st in _statements(stack, "iam", "dagster") if "sns:Publish" in {_unquote(a) for a in st["actions"]}
    ]
    assert len(publishing) == 1, f"{len(publishing)} statements of the Dagster policy grant sns:Publish"
    (statement,) = publishing
    assert {_unquote(a) for a in statement["actions"]} == {"sns:Publish"}, "the SNS statement grants more than Publish"
    resources = [stack.value("iam", r) for r in statement["resources"]]
    assert resources == [alerts_topic(stack)], f"the Dagster role may publish to {resources}, not the topic only"
    missing, extra = DAGSTER_ROLE_ACTIONS - granted, granted - DAGSTER_ROLE_ACTIONS
    assert not missing and not extra, (
        f"modules/iam grants what the code does not call: {sorted(extra)}; and lacks what it calls: {sorted(missing)}."
        " health_pipeline/aws_permissions.py and the policy must list the same actions."
    )


def check_alerts_topic(stack: Stack) -> None:
    """The alerts topic is encrypted with the module's own key (rotated, which CloudWatch may use for
    this account's alarms only), e-mail subscriptions come from envs/prod's variable, and the Dagster
    role may use that key and no other."""
    topic = stack.resource("alerts", "aws_sns_topic", "alerts")
    assert _unquote(topic.get("kms_master_key_id", "")) == "${aws_kms_key.alerts.arn}", (
        "the alerts topic must be encrypted with the module's customer-managed key (alias/aws/sns cannot let"
        " CloudWatch alarms publish)"
    )
    key = stack.resource("alerts", "aws_kms_key", "alerts")
    assert key.get("enable_key_rotation") is True, "the alerts key must rotate"
    assert _unquote(key["policy"]) == "${data.aws_iam_policy_document.key.json}", "the key policy must be checked here"
    for statement in _statements(stack, "alerts", "key"):
        for principals in statement.get("principals", []):
            identifiers = [_unquote(i) for i in principals["identifiers"]]
            assert "*" not in identifiers, f"the alerts key policy names every principal ({statement.get('sid')})"
            if _unquote(principals["type"]) == "Service":
                conditions = {_unquote(c["variable"]) for c in statement.get("condition", [])}
                assert "aws:SourceAccount" in conditions, f"{identifiers} may use the key for any account"
    subscription = stack.resource("alerts", "aws_sns_topic_subscription", "email")
    assert _unquote(subscription["protocol"]) == "email"
    assert _unquote(subscription["for_each"]) == "${toset(var.email_addresses)}"
    assert _unquote(stack.call_args("alerts")["email_addresses"]) == "${var.alert_email_addresses}"
    encrypting = [
        st
        for st in _statements(stack, "iam", "dagster")
        if "kms:GenerateDataKey" in {_unquote(a) for a in st["actions"]}
    ]
    key_arn = stack.value(None, "${module.alerts.key_arn}")
    assert key_arn == "${aws_kms_key.alerts.arn}", f"modules/alerts outputs {key_arn!r} as the key"
    used = [[stack.value("iam", r) for r in st["resources"]] for st in encrypting]
    assert used == [[key_arn]], f"the Dagster role may use the keys {used}, not the alerts key only"


def alerts_topic(stack: Stack) -> object:
    """The alerts topic's ARN as envs/prod sees it (module.alerts.topic_arn), which must be the topic."""
    topic = stack.value(None, "${module.alerts.topic_arn}")
    assert topic == "${aws_sns_topic.alerts.arn}", f"modules/alerts outputs {topic!r} as the topic"
    return topic


def _key_policy_documents(stack: Stack, module: str | None) -> set[str]:
    """Documents used as a KMS key policy, where the resource "*" is the key itself."""
    return {
        match.group(1)
        for body in stack.typed(module, "resource", "aws_kms_key").values()
        if (match := re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", _text(body.get("policy", ""))))
    }


def prod_output_values(stack: Stack) -> dict[str, object]:
    """The settings outputs and the role (what scripts/terraform_outputs_env.py turns into an env)."""
    return {
        name: stack.value(None, body["value"])
        for name, body in stack.named(None, "output").items()
        if name == ROLE_OUTPUT or not name.startswith((OPERATOR_OUTPUT_PREFIX, PRODUCER_OUTPUT_PREFIX))
    }


def check_prod_outputs(stack: Stack) -> None:
    read = set(re.findall(r'env\.get\("([A-Z0-9_]+)"', (PROJECT_ROOT / "health_pipeline" / "settings.py").read_text()))
    needed = read - LOCAL_ONLY_SETTINGS - POLICY_SETTINGS
    outputs = prod_output_values(stack)
    settings_outputs = {name.upper() for name in outputs if name != ROLE_OUTPUT}
    assert ROLE_OUTPUT in outputs, "envs/prod must output the Dagster role ARN"
    assert settings_outputs == needed, (
        f"envs/prod outputs {sorted(settings_outputs - needed)} that no setting reads"
        f" and lacks {sorted(needed - settings_outputs)}"
    )
    # The production names (pipeline pattern): the aws-mode defaults in settings.py describe this very deployment.
    seed = Settings(mode="aws")
    for name, expected in {
        "aws_region": seed.aws_region,
        "health_pipeline_firehose_stream": seed.firehose_stream,
        "health_pipeline_database": seed.database,
        "health_pipeline_table": seed.table,
        "health_pipeline_athena_output": seed.athena_output,
        "health_pipeline_export_uri": seed.export_uri,
    }.items():
        assert outputs[name] == expected, (
            f"envs/prod output {name} is {outputs[name]!r}, the pipeline pattern's is {expected!r}"
        )
    assert outputs["health_pipeline_catalog"] == f"s3tablescatalog/{stack.value(None, '${var.table_bucket_name}')}"
    operator = {name for name in stack.named(None, "output") if name.startswith(OPERATOR_OUTPUT_PREFIX)} - {ROLE_OUTPUT}
    assert operator == set(OPERATOR_OUTPUTS), f"envs/prod's operator outputs are {sorted(operator)}"
    for name, module_output in OPERATOR_OUTPUTS.items():
        assert _unquote(stack.named(None, "output")[name]["value"]) == f"${{module.dagster.{module_output}}}"
        assert module_output in stack.named("dagster", "output"), f"modules/dagster has no output {module_output}"
    producer = {name for name in stack.named(None, "output") if name.startswith(PRODUCER_OUTPUT_PREFIX)}
    assert producer == set(PRODUCER_OUTPUTS), f"envs/prod's producer outputs are {sorted(producer)}"
    for name, module_output in PRODUCER_OUTPUTS.items():
        assert _unquote(stack.named(None, "output")[name]["value"]) == f"${{module.lambda.{module_output}}}"
        assert module_output in stack.named("lambda", "output"), f"modules/lambda has no output {module_output}"


# -- the operators' Dagster (modules/dagster) ---------------------------------------------------------
WORLD = {"0.0.0.0/0", "::/0"}
AUTHENTICATE = {"authenticate-oidc", "authenticate-cognito"}
PASSWORD_LIKE = re.compile(r"PASSW|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY", re.IGNORECASE)
# What would put the database password itself (not the secret's ARN) into the environment or state.
PASSWORD_VALUE = re.compile(r"\.password\b|master_user_secret|secret_string|aws_secretsmanager_secret_version")
_REFERENCE = re.compile(r"\b(local|var)\.([A-Za-z_][A-Za-z0-9_]*)")


def _modules(stack: Stack) -> list[str | None]:
    """envs/prod (None) and every directory under modules/, listed or not."""
    return [None, *sorted(path.name for path in (stack.root / "modules").iterdir() if path.is_dir())]


def _everywhere(stack: Stack, kind: str, type_name: str) -> list[tuple[str | None, str, dict]]:
    return [(m, name, body) for m in _modules(stack) for name, body in stack.typed(m, kind, type_name).items()]


def _text(raw: object) -> str:
    return _unquote(raw) if isinstance(raw, str) else json.dumps(raw)


def _named_ref(raw: object, type_name: str) -> str:
    """`aws_x.name.id` / `.arn` / `.name` (or `aws_x.name[0].id`, of a counted resource) -> name."""
    match = re.fullmatch(rf"\$\{{{type_name}\.(\w+)(?:\[0\])?\.(?:id|arn|name)\}}", _text(raw))
    assert match, f"{_text(raw)!r} is not a reference to a {type_name} of the module"
    return match.group(1)


def _for_each_keys(stack: Stack, module: str, body: dict) -> list[str]:
    raw = body.get("for_each")
    if raw is None:
        return [""]
    value = stack.value(module, raw)
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list):
        return [_unquote(str(v)) for v in value]
    listed = re.fullmatch(r"\$\{toset\(\[(.*)\]\)\}", str(value), re.DOTALL)
    assert listed, f"cannot list the keys of for_each = {raw}"
    return re.findall(r'"([^"]+)"', listed.group(1))


def _each(stack: Stack, module: str, raw: object, key: str) -> object:
    """A value in a for_each resource for one key: `local.x[each.key]` and `each.key` resolved."""
    text = _text(raw) if isinstance(raw, str) else raw
    if not isinstance(text, str):
        return text
    text = text.replace("${each.key}", key)
    indexed = re.fullmatch(r"\$\{local\.(\w+)\[each\.key\]\}", text)
    if indexed:
        return stack.value(module, stack.locals(module)[indexed.group(1)].get(key))
    return stack.value(module, text)


def container_definitions(stack: Stack, module: str) -> dict[str, list[dict]]:
    """Every task definition's containers, by `resource name[key]`, read from `jsonencode([...])`."""
    found: dict[str, list[dict]] = {}
    for name, body in stack.typed(module, "resource", "aws_ecs_task_definition").items():
        encoded = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", body["container_definitions"], re.DOTALL)
        assert encoded, f"{name}: write container_definitions as jsonencode([...]) so it can be read"
        containers = hcl2.loads(f"x = {encoded.group(1)}\n")["x"]
        for key in _for_each_keys(stack, module, body):
            found[f"{name}[{key}]"] = [{**c, "__key__": key} for c in containers]
    return found


def _collect(stack: Stack, module: str | None, raw: object, seen: set[str]) -> tuple[set[str], str]:
    """The names (object keys, `name = ...` values) and text of an expression and of everything it
    refers to through locals and module variables (their values from envs/prod): an over-estimate of
    the environment a container can get."""
    names: set[str] = set()
    texts = [json.dumps(raw)]
    if isinstance(raw, dict):
        if isinstance(raw.get("name"), str):  # {name = "X", value = ...}, as ECS takes an environment
            names.add(_unquote(raw["name"]))
        for key, value in raw.items():
            if key != "__is_block__":
                names.add(key)
            sub_names, sub_text = _collect(stack, module, value, seen)
            names |= sub_names
            texts.append(sub_text)
    elif isinstance(raw, list):
        for item in raw:
            sub_names, sub_text = _collect(stack, module, item, seen)
            names |= sub_names
            texts.append(sub_text)
    elif isinstance(raw, str):
        names |= set(re.findall(r'name\s*=\s*\\?"([A-Za-z0-9_]+)', raw))
        for kind, ref in _REFERENCE.findall(raw):
            if f"{module}:{kind}.{ref}" in seen:
                continue
            seen.add(f"{module}:{kind}.{ref}")
            if kind == "local":
                target = stack.locals(module).get(ref)
                sub_names, sub_text = _collect(stack, module, target, seen)
            elif module is not None and ref in stack.call_args(module):
                sub_names, sub_text = _collect(stack, None, stack.call_args(module)[ref], seen)
            else:
                variable = stack.named(module, "variable").get(ref, {})
                sub_names, sub_text = _collect(stack, module, variable.get("default"), seen)
            names |= sub_names
            texts.append(sub_text)
    return names, "\n".join(texts)


def _listeners(stack: Stack) -> dict[tuple, dict]:
    return {(m, name): body for m, name, body in _everywhere(stack, "resource", "aws_lb_listener")}


def profile_of(stack: Stack) -> str:
    profile = stack.value("dagster", "${var.profile}")
    assert profile in PROFILES, f"modules/dagster's profile is {profile!r}"
    return str(profile)


def _script_hosts(script: Path) -> dict[str, list[str]]:
    """deploy/small-task.sh's `--host` arguments of the webserver and the code server."""
    joined = script.read_text(encoding="utf-8").replace("\\\n", " ")
    hosts: dict[str, list[str]] = {"dagster-webserver": [], "code-server start": []}
    for line in joined.splitlines():
        for command in hosts:
            if command in line and not line.lstrip().startswith("#"):
                words = line.split()
                hosts[command] += [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("--host", "-h")]
    return hosts


def check_webserver_behind_login(stack: Stack) -> None:
    """Nothing reaches the webserver without authentication. standard: every listener action that
    forwards to the webserver's target group comes after an authenticate action (that does not let
    unauthenticated requests through), on HTTPS with a TLS 1.3 policy; HTTP listeners only redirect to
    HTTPS. small: no load balancer, listener or target group at all; the one task maps no port, its
    webserver and code server listen on loopback (deploy/small-task.sh), and the way in is ECS Exec's
    Session Manager channel, which IAM authorizes."""
    if profile_of(stack) == "small":
        _check_small_ui_behind_iam(stack)
        return
    webserver_groups = {
        (m, _named_ref(lb["target_group_arn"], "aws_lb_target_group"))
        for m, _, service in _everywhere(stack, "resource", "aws_ecs_service")
        for lb in service.get("load_balancer", [])
    }
    assert webserver_groups, "no ECS service is behind a load balancer: where is the Dagster UI?"
    listeners = _listeners(stack)
    actions = [
        (m, f"aws_lb_listener.{n}", (m, n), body.get("default_action", [])) for (m, n), body in listeners.items()
    ]
    for m, name, rule in _everywhere(stack, "resource", "aws_lb_listener_rule"):
        listener = (m, _named_ref(rule["listener_arn"], "aws_lb_listener"))
        actions.append((m, f"aws_lb_listener_rule.{name}", listener, rule.get("action", [])))
    forwards = 0
    for module, where, listener, blocks in actions:
        protocol = stack.value(module, listeners[listener].get("protocol", "HTTP"))
        ordered = sorted(
            enumerate(blocks), key=lambda item: (stack.value(module, item[1].get("order", item[0] + 1)), item[0])
        )
        authenticated = False
        for _, action in ordered:
            kind = stack.value(module, action["type"])
            if protocol == "HTTP":
                assert kind == "redirect", f"{where} (HTTP) does {kind!r}: plain HTTP may only redirect to HTTPS"
                assert stack.value(module, _block(action, "redirect").get("protocol")) == "HTTPS", f"{where}"
            if kind in AUTHENTICATE:
                config = _block(action, kind.replace("-", "_"))
                unauthenticated = stack.value(module, config.get("on_unauthenticated_request", "authenticate"))
                assert unauthenticated in {"authenticate", "deny"}, (
                    f"{where}: {kind} lets unauthenticated requests through"
                )
                authenticated = True
            elif kind == "forward":
                targets = [action.get("target_group_arn")] + [
                    group["arn"] for forward in action.get("forward", []) for group in forward.get("target_group", [])
                ]
                groups = {(module, _named_ref(t, "aws_lb_target_group")) for t in targets if t}
                if groups & webserver_groups:
                    assert authenticated, f"{where} forwards to the webserver before any authenticate action"
                    assert protocol == "HTTPS", f"{where} serves the webserver over {protocol}"
                    policy = str(stack.value(module, listeners[listener].get("ssl_policy", "")))
                    assert policy.startswith("ELBSecurityPolicy-TLS13-"), (
                        f"{where}: TLS policy {policy!r} is not TLS 1.3/1.2"
                    )
                    forwards += 1
    assert forwards, "no listener forwards to the webserver"


def _check_small_ui_behind_iam(stack: Stack) -> None:
    for type_name in ("aws_lb", "aws_lb_listener", "aws_lb_listener_rule", "aws_lb_target_group"):
        found = _everywhere(stack, "resource", type_name)
        assert not found, f"the small profile has a {type_name} ({[name for _, name, _ in found]})"
    services = stack.typed("dagster", "resource", "aws_ecs_service")
    assert set(services) == {"dagster"}, f"the small profile runs the services {sorted(services)}"
    service = services["dagster"]
    assert not service.get("load_balancer"), "the small task is behind a load balancer"
    assert service.get("enable_execute_command") is True, "no ECS Exec: operators could not reach the UI"
    definition = stack.resource("dagster", "aws_ecs_task_definition", "this")
    (container,) = container_definitions(stack, "dagster")["this[dagster]"]
    assert "local.ports[each.key]" in _text(container.get("portMappings", "")), "portMappings are not local.ports"
    ports = stack.value("dagster", stack.locals("dagster")["ports"]["dagster"])
    assert ports == [], f"the small task maps ports {ports}: its servers are for loopback only"
    command = [stack.value("dagster", part) for part in stack.locals("dagster")["commands"]["dagster"]]
    assert command[-1].endswith("/small-task.sh"), f"the small task runs {command}, not deploy/small-task.sh"
    for server, hosts in _script_hosts(stack.deploy / "small-task.sh").items():
        assert hosts and set(hosts) == {"127.0.0.1"}, f"deploy/small-task.sh starts {server} on {hosts or 'no host'}"
    assert _text(container.get("command")) == "${local.commands[each.key]}" and definition.get("for_each")


# Where ingress is declared: resource type -> (address keys, source-group key, protocol key).
_INGRESS = {
    "aws_security_group": (("cidr_blocks", "ipv6_cidr_blocks"), "security_groups", "protocol"),
    "aws_security_group_rule": (("cidr_blocks", "ipv6_cidr_blocks"), "source_security_group_id", "protocol"),
    "aws_vpc_security_group_ingress_rule": (("cidr_ipv4", "cidr_ipv6"), "referenced_security_group_id", "ip_protocol"),
}


def _as_list(raw: object) -> list:
    return [] if raw is None else raw if isinstance(raw, list) else [raw]


def _ingress_rules(stack: Stack) -> list[dict]:
    """Every ingress rule (inline blocks or separate resources): module, group, ports, protocol,
    addresses and source groups."""
    rules = []
    for module in _modules(stack):
        for type_name, (address_keys, source_key, protocol_key) in _INGRESS.items():
            for name, body in stack.typed(module, "resource", type_name).items():
                if type_name == "aws_security_group":
                    group, blocks = name, body.get("ingress", [])
                elif type_name == "aws_security_group_rule" and stack.value(module, body["type"]) != "ingress":
                    continue
                else:
                    group, blocks = _named_ref(body["security_group_id"], "aws_security_group"), [body]
                for block in blocks:
                    rules.append(
                        {
                            "module": module,
                            "where": f"{type_name}.{name}",
                            "group": group,
                            "ports": tuple(
                                stack.value(module, block.get(k, d)) for k, d in (("from_port", 0), ("to_port", 65535))
                            ),
                            "protocol": str(stack.value(module, block.get(protocol_key, "-1"))),
                            "cidrs": [
                                str(stack.value(module, c)) for key in address_keys for c in _as_list(block.get(key))
                            ],
                            "sources": [_named_ref(s, "aws_security_group") for s in _as_list(block.get(source_key))],
                        }
                    )
    return rules


def check_security_groups(stack: Stack) -> None:
    """Nothing is open to the internet but the ALB's 443 (and 80, which only redirects); in the Dagster
    module, the webserver takes the ALB only, the code server the webserver and daemon only, the
    database the tasks only."""
    alb_groups = {
        (m, _named_ref(group, "aws_security_group"))
        for m, _, lb in _everywhere(stack, "resource", "aws_lb")
        for group in lb.get("security_groups", [])
    }
    rules = _ingress_rules(stack)
    for rule in rules:
        exposed = [c for c in rule["cidrs"] if c in WORLD or "${" in c]
        if exposed:
            assert (rule["module"], rule["group"]) in alb_groups, (
                f"{rule['where']} opens {rule['group']} to {exposed}: only the load balancer faces the internet"
            )
            assert rule["protocol"] == "tcp" and rule["ports"] in {(443, 443), (80, 80)}, (
                f"{rule['where']} opens {rule['protocol']} {rule['ports']} to {exposed}: only 443 (and 80 to redirect)"
            )
    services = {name: body for name, body in stack.typed("dagster", "resource", "aws_ecs_service").items()}
    role = {
        name: _named_ref(_block(body, "network_configuration")["security_groups"][0], "aws_security_group")
        for name, body in services.items()
    }
    (database,) = stack.typed("dagster", "resource", "aws_db_instance").values()
    role["database"] = _named_ref(database["vpc_security_group_ids"][0], "aws_security_group")
    port = {"database": stack.value("dagster", database.get("port", 5432))}
    if profile_of(stack) == "small":
        # The one task takes nothing; the database takes the task only.
        allowed = {"database": {"dagster"}, "dagster": set()}
        assert set(role) == set(allowed), f"the small profile's services and database: {sorted(role)}"
    else:
        (role["alb"],) = {group for module, group in alb_groups if module == "dagster"}
        port["webserver"] = stack.value("dagster", _block(services["webserver"], "load_balancer")["container_port"])
        port["code"] = stack.value("dagster", "${local.code_port}")
        allowed = {
            "webserver": {"alb"},
            "code": {"webserver", "daemon"},
            "database": {"webserver", "daemon", "code"},
            "daemon": set(),
        }
    by_group = {group: name for name, group in role.items()}
    flows = set()
    for rule in (r for r in rules if r["module"] == "dagster" and r["group"] != role.get("alb")):
        target = by_group.get(rule["group"])
        assert target in allowed, (
            f"{rule['where']}: ingress into {rule['group']}, which no Dagster task or the database uses"
        )
        assert allowed[target], f"{rule['where']}: ingress into the {target}'s group, which takes none"
        assert not rule["cidrs"], f"{rule['where']}: {target} takes addresses {rule['cidrs']}, not only security groups"
        sources = {by_group.get(source) for source in rule["sources"]}
        assert sources <= allowed[target], f"{rule['where']}: {target} reachable from {sorted(map(str, sources))}"
        assert rule["protocol"] == "tcp" and rule["ports"] == (port[target], port[target]), (
            f"{rule['where']}: {target} opens {rule['protocol']} {rule['ports']}, not only {port[target]}"
        )
        flows |= {(source, target) for source in sources}
    expected = {(source, target) for target, sources in allowed.items() for source in sources}
    assert flows == expected, f"missing flows (the deployment would not work): {sorted(expected - flows)}"


def check_database_private_and_guarded(stack: Stack) -> None:
    instances = _everywhere(stack, "resource", "aws_db_instance")
    assert instances, "no RDS instance for the Dagster instance"
    for module, name, db in instances:
        where = f"modules/{module}: aws_db_instance.{name}"
        assert stack.value(module, db.get("publicly_accessible")) is False, (
            f"{where} must set publicly_accessible = false"
        )
        assert stack.value(module, db.get("storage_encrypted")) is True, f"{where} is not encrypted"
        assert stack.value(module, db.get("deletion_protection")) is True, f"{where} lacks deletion_protection = true"
        assert stack.value(module, db.get("skip_final_snapshot")) is False, (
            f"{where} would be destroyed without a final snapshot"
        )
        backups = stack.value(module, db.get("backup_retention_period", 0))
        assert isinstance(backups, int) and backups >= 1, f"{where}: backup_retention_period is {backups!r}"
        subnets = stack.resource(
            module, "aws_db_subnet_group", _named_ref(db["db_subnet_group_name"], "aws_db_subnet_group")
        )
        assert _text(subnets["subnet_ids"]) == "${var.private_subnet_ids}", (
            f"{where}: subnet group {subnets['subnet_ids']} is not the private subnets"
        )
        wired = _text(stack.call_args(module).get("private_subnet_ids", "")) if module else ""
        assert "private" in wired, f"{where}: envs/prod gives private_subnet_ids = {wired!r}"


def check_db_password_only_as_secret(stack: Stack) -> None:
    """RDS manages the password; every container gets it as the secret DAGSTER_PG_PASSWORD (the key
    `password` of the RDS-managed secret), the name deploy/dagster.yaml reads; no environment entry,
    output or state copy of it anywhere."""
    instance = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))
    password_env = instance["storage"]["postgres"]["postgres_db"]["password"]["env"]
    for module in _modules(stack):
        for kind in ("resource", "data"):
            assert not stack.typed(module, kind, "aws_secretsmanager_secret_version"), (
                f"{module or 'envs/prod'}: a {kind} aws_secretsmanager_secret_version copies a secret into the state"
            )
        for name, db in stack.typed(module, "resource", "aws_db_instance").items():
            assert db.get("manage_master_user_password") is True, (
                f"aws_db_instance.{name}: RDS must manage the password"
            )
            assert not {"password", "password_wo"} & set(db), f"aws_db_instance.{name} sets a password itself"
        for name, output in stack.named(module, "output").items():
            assert not re.search(r"\.password\b|secret_string", _text(output["value"])), (
                f"output {name} exposes the password"
            )
    definitions = container_definitions(stack, "dagster")
    expected = {"standard": {"webserver", "daemon", "code", "run"}, "small": {"dagster"}}[profile_of(stack)]
    assert {key.split("[")[1].rstrip("]") for key in definitions} == expected, f"task definitions {sorted(definitions)}"
    for where, containers in definitions.items():
        for container in containers:
            secrets = _each(stack, "dagster", container.get("secrets", "[]"), container["__key__"])
            passwords = [s for s in secrets or [] if isinstance(s, dict) and _unquote(s["name"]) == password_env]
            assert len(passwords) == 1, f"{where}: no secret {password_env} (dagster.yaml's postgres password)"
            value_from = _unquote(passwords[0]["valueFrom"])
            assert re.fullmatch(
                r"\$\{aws_db_instance\.\w+\.master_user_secret\[0\]\.secret_arn\}:password::", value_from
            ), f"{where}: {password_env} comes from {value_from!r}, not the RDS-managed secret's password key"
            names, text = _collect(stack, "dagster", container.get("environment"), set())
            suspicious = sorted(n for n in names if PASSWORD_LIKE.search(n))
            assert not suspicious, f"{where}: environment names {suspicious} look like secrets: pass them as `secrets`"
            assert not PASSWORD_VALUE.search(text), f"{where}: the environment refers to the password itself"


def check_no_wildcard_actions(stack: Stack) -> None:
    """No Allow statement grants a wildcard action; `*` resources only for actions AWS cannot scope;
    iam:PassRole only on named roles, to ECS tasks; every policy is a document this check reads."""
    for module, name, document in _everywhere(stack, "data", "aws_iam_policy_document"):
        key_policy = name in _key_policy_documents(stack, module)
        for statement in document.get("statement", []):
            where = f"{module or 'envs/prod'}: {name} {_text(statement.get('sid', ''))}"
            if _unquote(statement.get("effect", '"Allow"')) == "Deny":
                continue
            assert "not_actions" not in statement, f"{where}: not_actions allows everything else"
            actions = {_unquote(a) for a in statement["actions"]}
            assert not any("*" in a or "?" in a for a in actions), f"{where}: wildcard action in {sorted(actions)}"
            resources = [_unquote(r) for r in statement.get("resources", [])]
            if "*" in resources and not key_policy:
                assert actions <= UNSCOPABLE_ACTIONS, (
                    f"{where}: {sorted(actions - UNSCOPABLE_ACTIONS)} on * but scopable"
                )
            if "iam:PassRole" in actions:
                assert not any("*" in r for r in resources), f"{where}: iam:PassRole on {resources}"
                conditions = {_unquote(c["variable"]) for c in statement.get("condition", [])}
                assert "iam:PassedToService" in conditions, f"{where}: iam:PassRole to any service"
    for module in _modules(stack):
        for type_name in ("aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy"):
            for name, body in stack.typed(module, "resource", type_name).items():
                assert re.fullmatch(
                    r"\$\{data\.aws_iam_policy_document\.\w+(\[[^\]]+\])?\.json\}", _text(body["policy"])
                ), f"{type_name}.{name}: write the policy as an aws_iam_policy_document so it is checked"
        for type_name in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
            assert not stack.typed(module, "resource", type_name), (
                f"{type_name}: a managed policy cannot be checked here"
            )


def _image_paths(stack: Stack, source: str) -> set[str]:
    """Where the Dockerfile copies `source` (a file of the repository) in the image."""
    steps = dockerfile_instructions(stack.deploy / DOCKERFILE.name)
    workdir = next(args for op, args in steps if op == "WORKDIR")
    return {
        posixpath.normpath(posixpath.join(workdir, args.split()[-1]))
        for op, args in steps
        if op == "COPY" and args.split()[0] == source
    }


# What deploy/dagster-small.yaml may set differently from deploy/dagster.yaml: no run launcher (the
# default: runs are subprocesses of the small task's code server), fewer runs at once, and a longest
# run (the default launcher cannot see a run that died with its task).
SMALL_INSTANCE_DIFFERENCES = {
    ("run_launcher",),
    ("concurrency", "runs", "max_concurrent_runs"),
    ("run_monitoring", "max_runtime_seconds"),
}


def _without(config: dict, paths: set[tuple[str, ...]]) -> dict:
    config = json.loads(json.dumps(config))
    for path in paths:
        node = config
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    return config


def _check_small_deploy_config(stack: Stack) -> None:
    standard = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))
    small = yaml.safe_load((stack.deploy / "dagster-small.yaml").read_text(encoding="utf-8"))
    assert "run_launcher" not in small, "the small task's runs are its own subprocesses: no run_launcher"
    runs = small["concurrency"]["runs"]["max_concurrent_runs"]
    assert isinstance(runs, int) and 1 <= runs <= 2, f"the small task's memory holds 1-2 runs, not {runs!r}"
    longest = small["run_monitoring"].get("max_runtime_seconds")
    assert isinstance(longest, int) and longest > 0, "a run that died with the task would hold the run slot forever"
    assert _without(small, SMALL_INSTANCE_DIFFERENCES) == _without(standard, SMALL_INSTANCE_DIFFERENCES), (
        "deploy/dagster-small.yaml and deploy/dagster.yaml differ beyond the run launcher and max_concurrent_runs"
    )
    environment = stack.locals("dagster")["task_environment"]["dagster"]
    home = stack.value("dagster", environment.get("DAGSTER_HOME"))
    assert f"{home}/dagster.yaml" in _image_paths(stack, "deploy/dagster-small.yaml"), (
        f"the small task's DAGSTER_HOME {home!r} does not hold deploy/dagster-small.yaml in the image"
    )
    command = [stack.value("dagster", part) for part in stack.locals("dagster")["commands"]["dagster"]]
    assert command[-1] in _image_paths(stack, "deploy/small-task.sh"), (
        f"the small task runs {command[-1]!r}, where the image has no deploy/small-task.sh"
    )
    runtime = _block(stack.resource("dagster", "aws_ecs_task_definition", "this"), "runtime_platform")
    assert stack.value("dagster", runtime["cpu_architecture"]) == "ARM64", "the small task runs on ARM64 (Graviton)"


def check_deploy_config_matches(stack: Stack) -> None:
    """deploy/ (baked into the image) and modules/dagster agree. standard: the run task definition and
    its container, the PostgreSQL variables, the code server's address and the workspace's path.
    small: deploy/dagster-small.yaml is deploy/dagster.yaml but for the run launcher and the runs at
    once, and the task's DAGSTER_HOME and script are where the image has them."""
    if profile_of(stack) == "small":
        _check_small_deploy_config(stack)
        return
    instance = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))
    launcher = instance["run_launcher"]["config"]
    run_env = launcher["task_definition"]["env"]
    definitions = stack.typed("dagster", "resource", "aws_ecs_task_definition")
    (definition,) = definitions.values()
    run_family = stack.value("dagster", "${local.run_family}")
    assert _each(stack, "dagster", definition["family"], "run") == run_family, "the run task definition's family"
    task_environment = stack.locals("dagster")["task_environment"]
    for component in ("webserver", "daemon"):
        value = stack.value("dagster", task_environment[component].get(run_env))
        assert value == run_family, f"the {component} sets {run_env}={value!r}, not {run_family!r}"
    assert launcher["container_name"] == stack.value("dagster", "${local.container_name}")
    assert launcher.get("secrets_tag", "dagster") is None, "secrets_tag would need secretsmanager:ListSecrets"
    assert not launcher.get("env_vars"), "env_vars must each be set in the daemon: the run task definition has them"
    run_size = stack.value("dagster", "${var.task_sizes}")["run"]
    resources = launcher["run_resources"]
    assert (int(resources["cpu"]), int(resources["memory"])) == (run_size["cpu"], run_size["memory"])
    database = instance["storage"]["postgres"]["postgres_db"]
    read = {v["env"] for key, v in database.items() if isinstance(v, dict) and "env" in v and key != "password"}
    assert read == set(stack.locals("dagster")["database_environment"]), f"dagster.yaml reads {sorted(read)}"
    # The code server's address (Cloud Map) and port, and the workspace file the services are given.
    grpc = yaml.safe_load((stack.deploy / "workspace.yaml").read_text(encoding="utf-8"))["load_from"][0]["grpc_server"]
    namespace = stack.value(
        "dagster", stack.resource("dagster", "aws_service_discovery_private_dns_namespace", "this")["name"]
    )
    service = stack.value("dagster", stack.resource("dagster", "aws_service_discovery_service", "code")["name"])
    assert grpc["host"] == f"{service}.{namespace}", (
        f"workspace.yaml reaches {grpc['host']}, Terraform names {service}.{namespace}"
    )
    assert grpc["port"] == stack.value("dagster", "${local.code_port}")
    steps = dockerfile_instructions(stack.deploy / DOCKERFILE.name)
    workdir = next(args for op, args in steps if op == "WORKDIR")
    copied = {
        posixpath.normpath(posixpath.join(workdir, args.split()[-1]))
        for op, args in steps
        if op == "COPY" and args.split()[0] == "deploy/workspace.yaml"
    }
    workspace = stack.value("dagster", "${local.workspace}")
    assert workspace in copied, (
        f"the services read {workspace}; the image has deploy/workspace.yaml at {sorted(copied)}"
    )
    for component in ("webserver", "daemon"):
        command = [stack.value("dagster", part) for part in stack.locals("dagster")["commands"][component]]
        assert command[command.index("--workspace") + 1] == workspace, f"the {component} is given another workspace"


def check_dagster_settings(stack: Stack) -> None:
    """The tasks get the aws mode and exactly the values envs/prod outputs as the settings."""
    environment = stack.call_args("dagster")["environment"]
    assert stack.value(None, environment["HEALTH_PIPELINE_MODE"]) == "aws"
    for name, value in prod_output_values(stack).items():
        if name != ROLE_OUTPUT:
            assert stack.value(None, environment.get(name.upper())) == value, (
                f"the tasks' {name.upper()} is not the output's"
            )
    assert _unquote(stack.call_args("dagster")["pipeline_role_arn"]) == "${module.iam.role_arn}", (
        "runs act as the pipeline role"
    )
    # The profile: envs/prod's dagster_profile, validated to the two the module knows.
    assert _text(stack.call_args("dagster").get("profile")) == "${var.dagster_profile}", "envs/prod sets no profile"
    for module, name in ((None, "dagster_profile"), ("dagster", "profile")):
        variable = stack.named(module, "variable")[name]
        condition = _text(_block(variable, "validation")["condition"])
        assert re.fullmatch(rf'\$\{{contains\(\["standard", "small"\], var\.{name}\)\}}', condition), (
            f"{module or 'envs/prod'}: var.{name} accepts {condition}"
        )
        assert stack.value(module, variable["default"]) == "standard", f"var.{name}'s default is not standard"


# Fargate's CPU units and the memory (MiB) each takes (Linux; "Task size" in the ECS developer guide).
FARGATE_MEMORY = {
    256: {512, 1024, 2048},
    512: {1024 * n for n in range(1, 5)},
    1024: {1024 * n for n in range(2, 9)},
    2048: {1024 * n for n in range(4, 17)},
    4096: {1024 * n for n in range(8, 31)},
}


def check_idle_cost(stack: Stack) -> None:
    """The profile's idle month at on-demand list prices (health_pipeline_tests/idle_cost.py) stays in
    its budget: small <= USD 40, standard <= USD 140; every task is a size Fargate offers."""
    from health_pipeline_tests.support.idle_cost import BUDGET_USD, idle_cost

    sizes = stack.value("dagster", "${var.task_sizes}")
    for component in _for_each_keys(stack, "dagster", stack.resource("dagster", "aws_ecs_task_definition", "this")):
        cpu, memory = sizes[component]["cpu"], sizes[component]["memory"]
        assert memory in FARGATE_MEMORY.get(cpu, set()), f"{component}: Fargate has no {cpu} CPU / {memory} MiB task"
    profile = profile_of(stack)
    items = idle_cost(stack)
    total = sum(item.usd for item in items)
    assert total <= BUDGET_USD[profile], (
        f"the {profile} profile idles at USD {total:.2f} a month, over its USD {BUDGET_USD[profile]:.0f}: "
        + "; ".join(f"{item.what} {item.usd:.2f}" for item in items)
    )


CHECKS = {
    check.__name__: check
    for check in (
        check_module_layout,
        check_firehose_delivery,
        check_firehose_role_scope,
        check_glue_ignores_parameters,
        check_s3tables_guarded,
        check_table_layout,
        check_lambda_role,
        check_lambda_function,
        check_entry_point_requires_auth,
        check_athena_workgroup,
        check_results_bucket,
        check_erasure_bounds,
        check_alarms,
        check_dagster_role_actions,
        check_alerts_topic,
        check_prod_outputs,
        check_webserver_behind_login,
        check_security_groups,
        check_database_private_and_guarded,
        check_db_password_only_as_secret,
        check_no_wildcard_actions,
        check_deploy_config_matches,
        check_dagster_settings,
        check_idle_cost,
    )
}


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack(TERRAFORM_DIR)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str) -> None:
    CHECKS[check](Stack(TERRAFORM_DIR, profile))


# (check, file under terraform/, text, replacement): each edit must be caught by its check.
CARELESS_EDITS = [
    (
        "check_idle_cost",
        "modules/dagster/variables.tf",
        "webserver = { cpu = 512, memory = 1024 }",
        "webserver = { cpu = 1024, memory = 2048 }",
    ),
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
        "check_alarms",
        "envs/prod/main.tf",
        "interval_seconds = 300",
        "interval_seconds = 900",
    ),
    (
        "check_alarms",
        "modules/alarms/main.tf",
        "threshold           = 0",
        "threshold           = 5",
    ),
    (
        "check_glue_ignores_parameters",
        "modules/glue/main.tf",
        "ignore_changes = [parameters]",
        "ignore_changes = []",
    ),
    (
        "check_s3tables_guarded",
        "modules/s3tables/main.tf",
        "ignore_changes = [iceberg_metadata]",
        "ignore_changes = []",
    ),
    ("check_s3tables_guarded", "modules/s3tables/main.tf", "destroy = false", "destroy = true"),
    ("check_s3tables_guarded", "envs/prod/main.tf", "columns           = module.glue.columns", "columns = []"),
    ("check_table_layout", "modules/s3tables/main.tf", 'transform = "day"', 'transform = "month"'),
    ("check_table_layout", "modules/s3tables/main.tf", 'direction  = "asc"', 'direction  = "desc"'),
    (
        "check_table_layout",
        "modules/s3tables/main.tf",
        'source_id = local.field_id["recorded_at"]\n          field_id',
        'source_id = local.field_id["user_id"]\n          field_id',
    ),
    # The producer Lambda: its role, its function, its entry point.
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
        '"${local.glue_arn}:table/${var.glue_database_name}/${var.glue_table_name}",',
        '"${local.glue_arn}:table/${var.glue_database_name}/*",',
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
        "check_entry_point_requires_auth",
        "modules/lambda/main.tf",
        'authorization_type = "AWS_IAM"',
        'authorization_type = "NONE"',
    ),
    (
        "check_entry_point_requires_auth",
        "modules/lambda/main.tf",
        'resource "aws_iam_role_policy" "invoke" {',
        'resource "aws_lambda_permission" "public" {\n  action        = "lambda:InvokeFunctionUrl"\n'
        '  function_name = aws_lambda_function.this.function_name\n  principal     = "*"\n'
        '  function_url_auth_type = "NONE"\n}\n\nresource "aws_iam_role_policy" "invoke" {',
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
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        '"athena:StopQueryExecution",',
        '"athena:StopQueryExecution",\n      "athena:DeleteWorkGroup",',
    ),
    (
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        "resources = [var.stream_arn]",
        'resources = ["*"]',
    ),
    (
        "check_firehose_role_scope",
        "modules/firehose/main.tf",
        "resources = [local.error_objects]",
        'resources = ["${var.error_bucket_arn}/*"]',
    ),
    (
        "check_prod_outputs",
        "envs/prod/outputs.tf",
        'output "health_pipeline_catalog"',
        'output "catalog"',
    ),
    (
        "check_prod_outputs",
        "envs/prod/main.tf",
        'bucket   = "health-logger-prod"',
        'bucket   = "health-logger-staging"',
    ),
    # The operators' Dagster: the login, the security groups, the database, its password, IAM.
    ("check_webserver_behind_login", "modules/dagster/alb.tf", "order = 1", "order = 3"),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        'on_unauthenticated_request = "authenticate"',
        'on_unauthenticated_request = "allow"',
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        'type = "redirect"\n',
        'type             = "forward"\n    target_group_arn = aws_lb_target_group.webserver[0].arn\n',
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        'ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"',
        'ssl_policy        = "ELBSecurityPolicy-2016-08"',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"HTTPS from operators; the listener authenticates before forwarding."\n'
        '  cidr_ipv4         = "0.0.0.0/0"\n  ip_protocol       = "tcp"\n  from_port         = 443',
        '"HTTPS from operators; the listener authenticates before forwarding."\n'
        '  cidr_ipv4         = "0.0.0.0/0"\n  ip_protocol       = "tcp"\n  from_port         = 0',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"PostgreSQL from the code server (sensors read the instance)."\n'
        "  referenced_security_group_id = aws_security_group.code[0].id",
        '"PostgreSQL from the code server (sensors read the instance)."\n  cidr_ipv4 = "0.0.0.0/0"',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"gRPC from the daemon (sensor and schedule ticks)."\n  referenced_security_group_id = aws_security_group.daemon[0].id',
        '"gRPC from the daemon (sensor and schedule ticks)."\n  referenced_security_group_id = aws_security_group.alb[0].id',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"PostgreSQL from the code server (sensors read the instance)."\n'
        "  referenced_security_group_id = aws_security_group.code[0].id",
        '"PostgreSQL from the code server (sensors read the instance)."\n'
        "  referenced_security_group_id = aws_security_group.alb[0].id",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "publicly_accessible    = false",
        "publicly_accessible    = true",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "storage_encrypted     = true",
        "storage_encrypted     = false",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "deletion_protection             = true",
        "deletion_protection             = false",
    ),
    ("check_database_private_and_guarded", "modules/dagster/variables.tf", "default     = 7", "default     = 0"),
    ("check_db_password_only_as_secret", "modules/dagster/ecs.tf", ":password::", ":username::"),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "environment  = local.environment[each.key]",
        'environment  = [{ name = "PGPASSWORD", value = "x" }]',
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.db_name",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.db_name\n    DAGSTER_PG_PASSWORD = var.oidc_client_secret",
    ),
    (
        "check_db_password_only_as_secret",
        "envs/prod/main.tf",
        'HEALTH_PIPELINE_MODE             = "aws"',
        'HEALTH_PIPELINE_MODE             = "aws"\n    DB_PASSWORD = "hunter2"',
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.db_name",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.master_user_secret[0].secret_arn",
    ),
    (
        "check_db_password_only_as_secret",
        "deploy/dagster.yaml",
        "        env: DAGSTER_PG_PASSWORD",
        "        env: DAGSTER_PG_PASS",
    ),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        'sid       = "StartRunTasks"\n    actions   = ["ecs:RunTask"]',
        'sid       = "StartRunTasks"\n    actions   = ["ecs:*"]',
    ),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        'aws_iam_role.execution["run"].arn,',
        '"arn:aws:iam::123456789012:role/*",',
    ),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        'actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]\n'
        "    resources = [aws_ecr_repository.this.arn]",
        'actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]\n'
        '    resources = ["*"]',
    ),
    (
        "check_deploy_config_matches",
        "modules/dagster/main.tf",
        'name  = "${local.name}-code"',
        'name  = "${local.name}-grpc"',
    ),
    (
        "check_deploy_config_matches",
        "deploy/dagster.yaml",
        "env: DAGSTER_RUN_TASK_DEFINITION",
        "env: RUN_TASK_DEFINITION",
    ),
    ("check_deploy_config_matches", "deploy/Dockerfile", "COPY deploy/workspace.yaml", "COPY workspace.yaml"),
    ("check_deploy_config_matches", "deploy/dagster.yaml", "    secrets_tag: null\n", ""),
    ("check_alarms", "modules/alarms/main.tf", "ok_actions    = var.alarm_actions\n}\n\nresource", "\n}\n\nresource"),
    ("check_alarms", "envs/prod/main.tf", "alarm_actions              = [module.alerts.topic_arn]", ""),
    ("check_alerts_topic", "modules/alerts/main.tf", "  kms_master_key_id = aws_kms_key.alerts.arn\n", ""),
    (
        "check_alerts_topic",
        "modules/alerts/main.tf",
        "kms_master_key_id = aws_kms_key.alerts.arn",
        'kms_master_key_id = "alias/aws/sns"',
    ),
    (
        "check_alerts_topic",
        "modules/alerts/main.tf",
        "enable_key_rotation     = true",
        "enable_key_rotation     = false",
    ),
    ("check_alerts_topic", "modules/alerts/main.tf", "identifiers = [local.account_root]", 'identifiers = ["*"]'),
    ("check_alerts_topic", "modules/iam/main.tf", "resources = [var.alert_key_arn]", 'resources = ["*"]'),
    ("check_no_wildcard_actions", "modules/alerts/main.tf", '"kms:UpdateKeyDescription",', '"kms:*",'),
    (
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        "resources = [var.alert_topic_arn]",
        'resources = ["arn:aws:sns:${data.aws_region.current.region}:${local.account_id}:*"]',
    ),
    (
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        'actions   = ["sns:Publish"]',
        'actions   = ["sns:Publish", "sns:Subscribe"]',
    ),
    (
        "check_dagster_settings",
        "envs/prod/main.tf",
        "HEALTH_PIPELINE_ALERT_TOPIC_ARN  = module.alerts.topic_arn",
        'HEALTH_PIPELINE_ALERT_TOPIC_ARN  = "arn:aws:sns:ap-northeast-1:123456789012:other"',
    ),
    (
        "check_dagster_settings",
        "envs/prod/main.tf",
        "HEALTH_PIPELINE_TABLE            = module.s3tables.table_name",
        'HEALTH_PIPELINE_TABLE            = "health_records_v2"',
    ),
]


# The small profile's careless edits, each caught on Stack(copy, "small").
SMALL_CARELESS_EDITS = [
    # Its idle month within USD 40.
    (
        "check_idle_cost",
        "modules/dagster/variables.tf",
        "dagster   = { cpu = 256, memory = 2048 }",
        "dagster   = { cpu = 512, memory = 2048 }",
    ),
    (
        "check_idle_cost",
        "modules/dagster/variables.tf",
        "dagster   = { cpu = 256, memory = 2048 }",
        "dagster   = { cpu = 256, memory = 4096 }",
    ),
    ("check_idle_cost", "modules/dagster/main.tf", 'local.small ? "db.t4g.micro"', 'local.small ? "db.t4g.small"'),
    (
        "check_idle_cost",
        "modules/dagster/ecs.tf",
        'cpu_architecture        = local.small ? "ARM64" : "X86_64"',
        'cpu_architecture        = "X86_64"',
    ),
    # Nothing reachable without authentication: no load balancer, no port, loopback only.
    (
        "check_webserver_behind_login",
        "deploy/small-task.sh",
        "dagster-webserver --host 127.0.0.1",
        "dagster-webserver --host 0.0.0.0",
    ),
    (
        "check_webserver_behind_login",
        "deploy/small-task.sh",
        "code-server start --host 127.0.0.1",
        "code-server start --host 0.0.0.0",
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/ecs.tf",
        "    dagster   = []\n",
        "    dagster   = [local.webserver_port]\n",
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        '  count                      = local.standard ? 1 : 0\n  name                       = "${local.name}-ui"',
        '  name                       = "${local.name}-ui"',
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/ecs.tf",
        "enable_execute_command             = true",
        "enable_execute_command             = false",
    ),
    # No inbound from anywhere; the database from the task's group only.
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        'resource "aws_vpc_security_group_ingress_rule" "database_from_task" {',
        'resource "aws_vpc_security_group_ingress_rule" "ui" {\n  count             = local.small ? 1 : 0\n'
        '  security_group_id = aws_security_group.task[0].id\n  cidr_ipv4         = "0.0.0.0/0"\n'
        '  ip_protocol       = "tcp"\n  from_port         = 3000\n  to_port           = 3000\n}\n\n'
        'resource "aws_vpc_security_group_ingress_rule" "database_from_task" {',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"PostgreSQL from Dagster\'s one task."\n  referenced_security_group_id = aws_security_group.task[0].id',
        '"PostgreSQL from Dagster\'s one task."\n  cidr_ipv4                    = "10.0.0.0/8"',
    ),
    # The database private and encrypted, its password only the RDS-managed secret.
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "publicly_accessible    = false",
        "publicly_accessible    = local.small",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "storage_encrypted     = true",
        "storage_encrypted     = local.standard",
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "    secrets      = local.secrets\n",
        "    secrets      = local.small ? [] : local.secrets\n",
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "dagster   = { DAGSTER_HOME = local.small_home,",
        "dagster   = { DAGSTER_PG_PASSWORD = var.oidc_client_secret, DAGSTER_HOME = local.small_home,",
    ),
    # No wildcard action; "*" resources only for actions that have no resource type.
    ("check_no_wildcard_actions", "modules/dagster/iam.tf", '"ssmmessages:OpenDataChannel",', '"ssmmessages:*",'),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        '"ssmmessages:CreateControlChannel",',
        '"ssmmessages:CreateControlChannel",\n      "ecs:ExecuteCommand",',
    ),
    # deploy/ and the task agree.
    (
        "check_deploy_config_matches",
        "deploy/dagster-small.yaml",
        "        env: DAGSTER_PG_HOST",
        "        env: PG_HOST",
    ),
    (
        "check_deploy_config_matches",
        "modules/dagster/ecs.tf",
        'small_home = "/opt/dagster/home-small"',
        'small_home = "/opt/dagster/home"',
    ),
    (
        "check_deploy_config_matches",
        "deploy/Dockerfile",
        "COPY deploy/small-task.sh ./deploy/",
        "COPY deploy/small-task.sh ./",
    ),
    (
        "check_dagster_settings",
        "envs/prod/main.tf",
        "profile            = var.dagster_profile",
        'profile            = "standard"',
    ),
]


def _copy(tmp_path: Path) -> Path:
    """terraform/ and the deploy/ beside it, copied; the copy's terraform/."""
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    shutil.copytree(PROJECT_ROOT / "deploy", tmp_path / "deploy")
    return copy


@pytest.mark.parametrize(("check", "relative", "text", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, text: str, replacement: str) -> None:
    copy = _copy(tmp_path)
    target = tmp_path / relative if relative.startswith("deploy/") else copy / relative
    source = target.read_text(encoding="utf-8")
    assert source.count(text) == 1, f"{relative} no longer contains {text!r} exactly once: update this edit"
    target.write_text(source.replace(text, replacement), encoding="utf-8")
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(copy))


@pytest.mark.parametrize(("check", "relative", "text", "replacement"), SMALL_CARELESS_EDITS)
def test_a_careless_edit_of_the_small_profile_is_caught(
    tmp_path: Path, check: str, relative: str, text: str, replacement: str
) -> None:
    copy = _copy(tmp_path)
    target = tmp_path / relative if relative.startswith("deploy/") else copy / relative
    source = target.read_text(encoding="utf-8")
    assert source.count(text) == 1, f"{relative} no longer contains {text!r} exactly once: update this edit"
    target.write_text(source.replace(text, replacement), encoding="utf-8")
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(copy, "small"))


def test_a_pristine_copy_passes_every_check(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    pristine = Stack(_copy(tmp_path))
    for check in CHECKS.values():
        check(pristine)


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


def test_prod_outputs_become_the_aws_settings(stack: Stack) -> None:
    """`terraform output -json` through scripts/terraform_outputs_env.py gives settings of the aws mode."""
    values = prod_output_values(stack)
    values["dagster_role_arn"] = "arn:aws:iam::123456789012:role/health-logger-prod-dagster"
    # Known after apply: the topic's ARN, and the UI's address from the operator's dagster_ui_hostname
    # (standard; it has no default, so the evaluation shows None); small links to the port forward.
    assert (values["health_pipeline_alert_topic_arn"], values["health_pipeline_ui_url"]) == (
        "${aws_sns_topic.alerts.arn}",
        "https://None",
    )
    assert prod_output_values(Stack(TERRAFORM_DIR, "small"))["health_pipeline_ui_url"] == "http://127.0.0.1:3000"
    values["health_pipeline_alert_topic_arn"] = "arn:aws:sns:ap-northeast-1:123456789012:health-logger-prod-alerts"
    values["health_pipeline_ui_url"] = "https://dagster.example.com"
    terraform_json = {name: {"sensitive": False, "type": "string", "value": value} for name, value in values.items()}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "terraform_outputs_env.py")],
        input=json.dumps(terraform_json),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    environ = {}
    for line in done.stdout.splitlines():
        if line.startswith("export "):
            name, _, quoted = line.removeprefix("export ").partition("=")
            environ[name] = " ".join(shlex.split(quoted))
    assert '# dagster_role_arn: "arn:aws:iam::123456789012:role/health-logger-prod-dagster"' in done.stdout
    settings = load_settings(environ)
    assert settings.mode == "aws"
    assert settings.athena_catalog == "s3tablescatalog/health-logger-prod-tables"
    assert settings.athena_workgroup == "health-logger-prod"
    assert settings.database == "health_logger_prod_health_logs"
    assert settings.athena_output == "s3://health-logger-prod/athena-results/"
    assert settings.export_uri == "s3://health-logger-prod/exports/"
    assert settings.firehose_stream == "health-logger-prod-records"
    assert settings.aws_region == "ap-northeast-1"
    assert settings.alert_topic_arn == "arn:aws:sns:ap-northeast-1:123456789012:health-logger-prod-alerts"
    assert settings.ui_url == "https://dagster.example.com"


def test_outputs_script_refuses_an_output_that_is_no_setting() -> None:
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "terraform_outputs_env.py")],
        input=json.dumps({"bucket": {"value": "health-logger-prod"}}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "'bucket' is not a setting" in done.stderr


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed: fmt cannot be checked here")
def test_terraform_fmt_is_clean() -> None:
    done = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-list=true", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (
        f"not formatted (run `terraform fmt -recursive terraform`):\n{done.stdout}{done.stderr}"
    )


def test_outputs_script_takes_the_operator_outputs(stack: Stack) -> None:
    values: dict[str, object] = {name: f"<{name}>" for name in stack.named(None, "output")}
    values.update(prod_output_values(stack))
    values["dagster_log_groups"] = {"webserver": "/ecs/health-pipeline/webserver"}
    values["dagster_service_names"] = {"webserver": "health-pipeline-webserver"}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "terraform_outputs_env.py")],
        input=json.dumps({name: {"sensitive": False, "value": value} for name, value in values.items()}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "export HEALTH_PIPELINE_MODE=aws" in done.stdout
    assert '# dagster_service_names: {"webserver": "health-pipeline-webserver"}' in done.stdout
    assert not any(line.startswith("export DAGSTER_") for line in done.stdout.splitlines())


def test_the_run_launcher_starts_the_terraform_run_task_definition(stack: Stack, monkeypatch) -> None:
    """deploy/dagster.yaml's EcsRunLauncher, built as the daemon builds it (moto standing in for ECS),
    resolves the run task definition Terraform registers and the container it overrides."""
    from dagster._config import process_config
    from dagster_aws.ecs import EcsRunLauncher
    from moto import mock_aws

    config = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))["run_launcher"]["config"]
    family = stack.value("dagster", "${local.run_family}")
    container = stack.value("dagster", "${local.container_name}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv(config["task_definition"]["env"], family)  # as the daemon's task definition sets it
    with mock_aws():
        import boto3

        boto3.client("ecs").register_task_definition(
            family=family,
            containerDefinitions=[{"name": container, "image": "health-pipeline:test"}],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="1024",
            memory="4096",
        )
        checked = process_config(EcsRunLauncher.config_type(), config)
        assert checked.success, checked.errors
        launcher = EcsRunLauncher(**checked.value)
        assert launcher.task_definition.endswith(f":task-definition/{family}:1")
        assert launcher.secrets_tags == [] and launcher.env_vars == []
