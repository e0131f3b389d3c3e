"""The Terraform's safety invariants, read offline with python-hcl2, so a careless edit fails CI.

`terraform validate` needs the AWS provider from the registry, which this environment cannot reach;
these checks (plus `terraform fmt` below and checkov in scripts/lint.sh) stand in for it. Each
invariant is a `check_*` function over a `Stack` (a terraform/ tree); the tests run them on the
repository's tree, and `test_a_careless_edit_is_caught` runs them on edited copies to prove they
can fail.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from functools import cached_property
from pathlib import Path

import hcl2
import pytest

from health_pipeline.aws_permissions import DAGSTER_ROLE_ACTIONS
from health_pipeline.schema.terraform import _unquote
from health_pipeline.settings import PROJECT_ROOT, Settings, load_settings

TERRAFORM_DIR = PROJECT_ROOT / "terraform"
MODULES = ("s3tables", "firehose", "glue", "athena", "iam", "alarms")
# Actions AWS offers no resource-level permissions for: the only ones allowed on "*".
UNSCOPABLE_ACTIONS = {"lakeformation:GetDataAccess", "cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData"}
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
}
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")


class Stack:
    """A terraform/ tree as parsed HCL, with just enough evaluation to follow values from
    envs/prod through module inputs, locals, variable defaults, resource arguments and outputs."""

    def __init__(self, root: Path) -> None:
        self.root = root
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
        """`resource` or `data` blocks of one type, by name."""
        found: dict[str, dict] = {}
        for item in self.doc(module).get(kind, []):
            for rtype, named in item.items():
                if _unquote(rtype) == type_name:
                    found.update({_unquote(name): body for name, body in named.items()})
        return found

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
        return {
            name: Path(_unquote(body["source"])).name for name, body in self.named(None, "module").items()
        }

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
        whole = re.fullmatch(r"\$\{([^{}]*)\}", text)
        if whole:
            return self._expression(module, whole.group(1).strip())
        return _INTERPOLATION.sub(lambda m: str(self._expression(module, m.group(1).strip())), text)

    def _expression(self, module: str | None, expr: str) -> object:
        expr = expr.strip()
        if expr.startswith("(") and expr.endswith(")"):
            expr = expr[1:-1].strip()
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
        if parts[0].startswith("aws_") and len(parts) == 3 and module is not None:
            body = self.typed(module, "resource", parts[0]).get(parts[1], {})
            if parts[2] in body:
                return self.value(module, body[parts[2]])
        return "${" + expr + "}"

    def _variable(self, module: str | None, name: str) -> object:
        if module is not None:
            args = self.call_args(module)
            if name in args:
                return self.value(None, args[name])
        variable = self.named(module, "variable").get(name)
        assert variable is not None, f"{module or 'envs/prod'}: var.{name} is not declared"
        assert "default" in variable, f"{module or 'envs/prod'}: var.{name} has no value (no input, no default)"
        return self.value(module, variable["default"])


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
        ("aws_s3tables_table", "health_records"),
    ):
        body = stack.resource("s3tables", type_name, name)
        assert _lifecycle(body).get("prevent_destroy") is True, f"{type_name}.{name} lacks prevent_destroy = true"
    table = stack.resource("s3tables", "aws_s3tables_table", "health_records")
    ignored = [_unquote(v) for v in _lifecycle(table).get("ignore_changes", [])]
    assert "metadata" in ignored, "a schema change in `metadata` would plan a replacement that drops the table"
    assert table.get("metadata"), "the table must be created with its schema"
    maintenance = table.get("maintenance_configuration") or {}
    for kind in ("iceberg_compaction", "iceberg_snapshot_management"):
        status = stack.value("s3tables", (maintenance.get(kind) or {}).get("status", ""))
        assert status == "enabled", f"table maintenance {kind} is {status!r}, not deliberately enabled"
    assert table.get("encryption_configuration"), "the table's encryption is not set"


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
    missing, extra = DAGSTER_ROLE_ACTIONS - granted, granted - DAGSTER_ROLE_ACTIONS
    assert not missing and not extra, (
        f"modules/iam grants what the code does not call: {sorted(extra)}; and lacks what it calls: {sorted(missing)}."
        " health_pipeline/aws_permissions.py and the policy must list the same actions."
    )


def prod_output_values(stack: Stack) -> dict[str, object]:
    return {name: stack.value(None, body["value"]) for name, body in stack.named(None, "output").items()}


def check_prod_outputs(stack: Stack) -> None:
    read = set(re.findall(r'env\.get\("([A-Z0-9_]+)"', (PROJECT_ROOT / "health_pipeline" / "settings.py").read_text()))
    needed = read - LOCAL_ONLY_SETTINGS
    outputs = prod_output_values(stack)
    settings_outputs = {name.upper() for name in outputs if name != "dagster_role_arn"}
    assert "dagster_role_arn" in outputs, "envs/prod must output the Dagster role ARN"
    assert settings_outputs == needed, (
        f"envs/prod outputs {sorted(settings_outputs - needed)} that no setting reads"
        f" and lacks {sorted(needed - settings_outputs)}"
    )
    # The seed's names: the aws-mode defaults in settings.py describe this very deployment.
    seed = Settings(mode="aws")
    for name, expected in {
        "aws_region": seed.aws_region,
        "health_pipeline_firehose_stream": seed.firehose_stream,
        "health_pipeline_database": seed.database,
        "health_pipeline_table": seed.table,
        "health_pipeline_athena_output": seed.athena_output,
        "health_pipeline_export_uri": seed.export_uri,
    }.items():
        assert outputs[name] == expected, f"envs/prod output {name} is {outputs[name]!r}, the seed's is {expected!r}"
    assert outputs["health_pipeline_catalog"] == f"s3tablescatalog/{stack.value(None, '${var.table_bucket_name}')}"


CHECKS = {
    check.__name__: check
    for check in (
        check_module_layout,
        check_firehose_delivery,
        check_firehose_role_scope,
        check_glue_ignores_parameters,
        check_s3tables_guarded,
        check_athena_workgroup,
        check_results_bucket,
        check_alarms,
        check_dagster_role_actions,
        check_prod_outputs,
    )
}


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack(TERRAFORM_DIR)


@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(stack: Stack, check: str) -> None:
    CHECKS[check](stack)


# (check, file under terraform/, text, replacement): each edit must be caught by its check.
CARELESS_EDITS = [
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
        "ignore_changes = [metadata]",
        "ignore_changes = []",
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
]


@pytest.mark.parametrize(("check", "relative", "text", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, text: str, replacement: str) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    target = copy / relative
    source = target.read_text(encoding="utf-8")
    assert source.count(text) == 1, f"{relative} no longer contains {text!r} exactly once: update this edit"
    target.write_text(source.replace(text, replacement), encoding="utf-8")
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(copy))


def test_a_pristine_copy_passes_every_check(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    pristine = Stack(copy)
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
    assert "# the role Dagster runs as: arn:aws:iam::123456789012:role/health-logger-prod-dagster" in done.stdout
    settings = load_settings(environ)
    assert settings.mode == "aws"
    assert settings.athena_catalog == "s3tablescatalog/health-logger-prod-tables"
    assert settings.athena_workgroup == "health-logger-prod"
    assert settings.database == "health_logger_prod_health_logs"
    assert settings.athena_output == "s3://health-logger-prod/athena-results/"
    assert settings.export_uri == "s3://health-logger-prod/exports/"
    assert settings.firehose_stream == "health-logger-prod-records"
    assert settings.aws_region == "ap-northeast-1"


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
