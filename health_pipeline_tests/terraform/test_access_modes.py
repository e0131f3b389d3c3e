"""The Terraform as AWS documents S3 Tables, read offline: both access modes of the table bucket's
integration with AWS analytics services, the schema without a table in the default catalog, the
Firehose route, the producer's concurrency and the provider floor.

Each invariant runs on both deployment profiles (standard, small) and both access modes (iam, AWS's
default, and lake_formation): a `ModeStack` sets envs/prod's s3tables_access_mode as
`terraform apply -var s3tables_access_mode=...` would, so `typed()` lists only the resources and
policy documents that exist in that mode (`count = local.iam_mode ? 1 : 0`). Each careless edit below
must make its check fail in the modes it names.

The rules come from /work/shared/aws-rules.md's sources: Amazon S3 User Guide, "Integrating Amazon S3
Tables with AWS analytics services" (the two modes) and "s3-tables-sql" (SQL operations and their IAM
actions); Amazon Data Firehose Developer Guide, "Prerequisites to use Apache Iceberg Tables as a
destination" (the resource link) and "Considerations and limitations" (AppendOnly); AWS Lambda,
PutFunctionConcurrency (100 unreserved executions).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from health_pipeline.aws_permissions import (
    DAGSTER_LAKE_FORMATION_ACTIONS,
    DAGSTER_ROLE_ACTIONS,
    LAMBDA_IAM_MODE_ACTIONS,
    LAMBDA_ROLE_ACTIONS,
)
from health_pipeline.schema.terraform import _unquote, read_desired_schema
from health_pipeline_tests.support.terraform_hcl import PROFILES, TERRAFORM_DIR, Stack, block, copy, everywhere, text

MODES = ("iam", "lake_formation")
PROVIDER_FLOOR = (6, 29)
LINK_NAME = "health_logger_prod_health_logs"  # the pipeline pattern's Athena database

# aws-rules.md's table of SQL operations (S3 User Guide, "s3-tables-sql"), plus, through Glue, the
# bucket and the namespace.
SELECT = {"s3tables:GetTableMetadataLocation", "s3tables:GetTableData"}
WRITE = {"s3tables:UpdateTableMetadataLocation", "s3tables:PutTableData", "s3tables:GetTableMetadataLocation"}
THROUGH_GLUE = {"s3tables:GetTableBucket", "s3tables:GetNamespace"}

# Lake Formation grants each principal needs on the sub-catalog's table: the Dagster role reads,
# deletes rows (DELETE and INSERT: position-delete files) and adds columns (ALTER); Firehose inserts
# and commits metadata; the producer reads the columns.
TABLE_GRANTS = {
    "iam": {"SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER"},
    "firehose": {"SELECT", "INSERT", "ALTER", "DESCRIBE"},
    "lambda": {"DESCRIBE"},
}
# The role each module's grants and policies are for.
ROLE = {"iam": "${aws_iam_role.this.arn}", "firehose": "${aws_iam_role.this.arn}", "lambda": "${aws_iam_role.this.arn}"}


class ModeStack(Stack):
    """A Stack read for one profile and one access mode."""

    def __init__(self, root: Path, profile: str | None = None, mode: str | None = None) -> None:
        super().__init__(root, profile)
        self.mode = mode  # None: envs/prod's default

    def _variable(self, module: str | None, name: str) -> object:
        if module is None and name == "s3tables_access_mode" and self.mode is not None:
            return self.mode  # as `terraform apply -var s3tables_access_mode=...`
        return super()._variable(module, name)


def _mode(stack: ModeStack) -> str:
    mode = stack.value(None, "${var.s3tables_access_mode}")
    assert mode in MODES, f"s3tables_access_mode is {mode!r}"
    return str(mode)


def _role_grants(stack: Stack, module: str) -> dict[str, list[str]]:
    """Action -> resources over every policy document attached to the module's own role (that exists
    in this mode), resources evaluated."""
    granted: dict[str, list[str]] = {}
    documents = stack.typed(module, "data", "aws_iam_policy_document")
    for body in stack.typed(module, "resource", "aws_iam_role_policy").values():
        if text(body["role"]) != "${aws_iam_role.this.id}":
            continue
        match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)(\[0\])?\.json\}", text(body["policy"]))
        assert match, f"modules/{module}: a role policy that is no policy document: {body['policy']!r}"
        document = documents.get(match.group(1))
        assert document is not None, f"modules/{module}: the role's policy {match.group(1)} does not exist in this mode"
        for statement in document.get("statement", []):
            if _unquote(statement.get("effect", '"Allow"')) != "Allow":
                continue
            resources = statement["resources"]
            if not isinstance(resources, list):  # a local list, or an expression (concat) kept as its text
                value = stack.value(module, resources)
                resources = value if isinstance(value, list) else [value]
            for action in (_unquote(a) for a in statement["actions"]):
                granted.setdefault(action, []).extend(str(stack.value(module, r)) for r in resources)
    return granted


def _grants(stack: Stack, module: str) -> dict[str, dict]:
    return stack.typed(module, "resource", "aws_lakeformation_permissions")


def _sub_catalog_id(stack: Stack) -> str:
    bucket = stack.value(None, "${var.table_bucket_name}")
    return f":s3tablescatalog/{bucket}"


def _namespace(stack: Stack) -> str:
    return str(stack.value(None, "${module.s3tables.namespace}"))


# -- the invariants --------------------------------------------------------------------------------
def check_access_mode_wired(stack: ModeStack) -> None:
    """One variable names the mode, iam (AWS's default) unless set, and every module with a principal
    of the table takes it from there."""
    variable = stack.named(None, "variable")["s3tables_access_mode"]
    assert stack.value(None, variable["default"]) == "iam", "the access mode's default must be AWS's: iam"
    condition = text(block(variable, "validation")["condition"])
    assert all(f'"{mode}"' in condition for mode in MODES), f"s3tables_access_mode's validation: {condition}"
    for module in ("firehose", "iam", "lambda"):
        wired = text(stack.call_args(module).get("access_mode", ""))
        assert wired == "${var.s3tables_access_mode}", f"modules/{module} takes access_mode {wired!r}"
    _mode(stack)


def check_principals_per_mode(stack: ModeStack) -> None:
    """In iam mode each principal's IAM policy grants the S3 Tables actions its SQL needs on the bucket
    and the table (and there is no grant); in lake_formation mode each gets GetDataAccess and the
    Lake Formation grants its work needs, on the sub-catalog's namespace and table."""
    mode = _mode(stack)
    bucket_arn = {
        "iam": "arn:${data.aws_partition.current.partition}:s3tables:${data.aws_region.current.region}"
        ":${data.aws_caller_identity.current.account_id}:bucket/" + str(stack.value(None, "${var.table_bucket_name}")),
        "firehose": "${module.s3tables.table_bucket_arn}",
        "lambda": "${module.s3tables.table_bucket_arn}",
    }
    needs = {"iam": SELECT | WRITE | THROUGH_GLUE, "firehose": WRITE | THROUGH_GLUE, "lambda": SELECT | THROUGH_GLUE}
    for module in ("iam", "firehose", "lambda"):
        granted = _role_grants(stack, module)
        grants = _grants(stack, module)
        if mode == "iam":
            missing = sorted(a for a in needs[module] if a not in granted)
            assert not missing, f"iam mode: modules/{module}'s role lacks {missing}"
            for action in THROUGH_GLUE:
                want = bucket_arn[module] if module == "iam" else str(stack.value(None, bucket_arn[module]))
                assert granted[action] == [want], f"modules/{module}: {action} on {granted[action]}, not the bucket"
            table_arn = str(stack.value(None, "${module.s3tables.table_arn}"))
            for action in needs[module] - THROUGH_GLUE:
                assert all(r in (table_arn, "${var.table_arn}") for r in granted[action]), (
                    f"modules/{module}: {action} on {granted[action]}, not the table"
                )
            assert not grants, f"iam mode: modules/{module} declares Lake Formation grants {sorted(grants)}"
            assert "lakeformation:GetDataAccess" not in granted, f"iam mode: modules/{module} asks Lake Formation"
        else:
            if module != "lambda":
                assert granted.get("lakeformation:GetDataAccess") == ["*"], (
                    f"lake_formation mode: modules/{module}'s role cannot get Lake Formation's data credentials"
                )
            tables = [body for body in grants.values() if body.get("table")]
            assert len(tables) == 1, f"lake_formation mode: modules/{module} has {len(tables)} table grants"
            (grant,) = tables
            assert text(grant["principal"]) == ROLE[module], f"modules/{module}: the grant is for {grant['principal']}"
            permissions = {_unquote(p) for p in grant["permissions"]}
            assert permissions == TABLE_GRANTS[module], (
                f"lake_formation mode: modules/{module}'s role is granted {sorted(permissions)} on the table,"
                f" not {sorted(TABLE_GRANTS[module])}"
            )
            table = block(grant, "table")
            catalog_id = str(stack.value(module, table.get("catalog_id", "")))
            assert catalog_id.endswith(_sub_catalog_id(stack)), (
                f"modules/{module}: the table grant's catalog is {catalog_id!r}, not the table bucket's sub-catalog"
            )
            assert stack.value(module, table["database_name"]) == _namespace(stack)
            assert stack.value(module, table["name"]) == stack.value(None, "${module.s3tables.table_name}")
            namespaces = [
                body
                for body in grants.values()
                if body.get("database")
                and str(stack.value(module, block(body, "database").get("catalog_id", ""))).endswith(
                    _sub_catalog_id(stack)
                )
            ]
            assert len(namespaces) == 1 and {_unquote(p) for p in namespaces[0]["permissions"]} == {"DESCRIBE"}, (
                f"lake_formation mode: modules/{module}'s role needs DESCRIBE on the namespace's database"
            )
    # The Dagster role's action sets, mode by mode, are the code's (health_pipeline/aws_permissions.py).
    dagster = set(_role_grants(stack, "iam"))
    expected = DAGSTER_ROLE_ACTIONS | (DAGSTER_LAKE_FORMATION_ACTIONS if mode == "lake_formation" else frozenset())
    assert dagster == expected, f"the Dagster role grants {sorted(dagster ^ expected)} unlike aws_permissions.py"
    producer = set(_role_grants(stack, "lambda"))
    expected = LAMBDA_ROLE_ACTIONS | (LAMBDA_IAM_MODE_ACTIONS if mode == "iam" else frozenset())
    assert producer == expected, f"the producer's role grants {sorted(producer ^ expected)} unlike aws_permissions.py"


def check_no_table_in_default_catalog(stack: ModeStack) -> None:
    """No Glue table is declared anywhere (the live table is S3 Tables'); the default catalog holds only
    the resource link, named like the namespace, to it; the columns are a literal in modules/s3tables,
    the table is created with them and the code reads them from there."""
    tables = everywhere(stack, "resource", "aws_glue_catalog_table")
    assert not tables, f"a Glue table is declared in {[(m, n) for m, n, _ in tables]}: it cannot load (a decoy)"
    databases = everywhere(stack, "resource", "aws_glue_catalog_database")
    assert [(m, n) for m, n, _ in databases] == [("glue", "link")], f"Glue databases: {databases}"
    link = databases[0][2]
    assert stack.value(None, "${module.glue.database_name}") == LINK_NAME == _namespace(stack), (
        "the resource link must be named like the namespace, the pattern's Athena database"
    )
    target = block(link, "target_database")
    assert str(stack.value("glue", target["catalog_id"])).endswith(_sub_catalog_id(stack)), (
        f"the link points into {target['catalog_id']!r}, not the table bucket's catalog"
    )
    assert stack.value("glue", target["database_name"]) == _namespace(stack), "the link must point at the namespace"
    schema = read_desired_schema(stack.root / "modules" / "s3tables")
    assert [c.name for c in schema.columns][:2] == ["user_id", "recorded_at"], f"declared columns: {schema}"
    table = stack.resource("s3tables", "awscc_s3tables_table", "health_records")
    fields = text(table["iceberg_metadata"]["iceberg_schema"]["schema_field_list"])
    assert "in local.columns" in fields, "the S3 Tables table must be created with local.columns"
    assert "columns" not in stack.call_args("s3tables"), "the columns have one source: modules/s3tables"


def check_firehose_route(stack: ModeStack) -> None:
    """The documented route: the default catalog and the resource link as the database; append-only;
    the role's Glue grants cover the link and its target; the stream is created after every policy
    and grant of its role."""
    stream = stack.resource("firehose", "aws_kinesis_firehose_delivery_stream", "this")
    iceberg = block(stream, "iceberg_configuration")
    assert iceberg.get("append_only") is True, (
        "append_only must be true: otherwise Direct PUT is capped at 1 MiB/s (Tokyo), and it can be set only at creation"
    )
    catalog = text(iceberg["catalog_arn"])
    assert catalog == "${local.glue_arn}:catalog", f"the stream's catalog is {catalog}, not the default catalog"
    # The link and the namespace share a name: the wiring, not the value, tells them apart.
    database = text(block(iceberg, "destination_table_configuration")["database_name"])
    wired = text(stack.call_args("firehose").get("resource_link_name", ""))
    assert database == "${var.resource_link_name}" and wired == "${module.glue.database_name}", (
        f"the stream delivers to database {database} ({wired}), not the resource link in the default catalog"
    )
    glue = _role_grants(stack, "firehose").get("glue:UpdateTable", [])
    for wanted in (
        f":database/{LINK_NAME}",
        f":table/{LINK_NAME}/health_records",
        f":database/s3tablescatalog/{stack.value(None, '${var.table_bucket_name}')}/{_namespace(stack)}",
        f":table/s3tablescatalog/{stack.value(None, '${var.table_bucket_name}')}/{_namespace(stack)}/health_records",
    ):
        assert any(r.endswith(wanted) for r in glue), f"Firehose's role may not update the table at {wanted}"
    depends = {text(d).strip("${}") for d in stream.get("depends_on", [])}
    needed = {f"aws_iam_role_policy.{name}" for name in stack.typed("firehose", "resource", "aws_iam_role_policy")}
    needed |= {f"aws_lakeformation_permissions.{name}" for name in _grants(stack, "firehose")}
    assert needed <= depends, f"the stream is not created after {sorted(needed - depends)}"


def check_producer_concurrency(stack: ModeStack) -> None:
    """No reservation unless the operator sets one; the variable says the quota rule."""
    variable = stack.named(None, "variable")["producer_reserved_concurrency"]
    assert stack.value(None, variable["default"]) is None, "the producer must reserve no executions by default"
    assert "100" in text(variable["description"]), "producer_reserved_concurrency must state the 100-unreserved rule"
    assert text(stack.call_args("lambda").get("reserved_concurrency")) == "${var.producer_reserved_concurrency}"
    function = stack.resource("lambda", "aws_lambda_function", "this")
    assert stack.value("lambda", function["reserved_concurrent_executions"]) is None


def check_provider_floor(stack: ModeStack) -> None:
    """Every module and the root require aws >= 6.29 (Lake Formation grants on the sub-catalog)."""
    directories = [stack.root / "envs" / "prod", *sorted((stack.root / "modules").iterdir())]
    for directory in directories:
        versions = (directory / "versions.tf").read_text(encoding="utf-8")
        found = re.search(r'aws\s*=\s*\{[^}]*?version\s*=\s*"([^"]*)"', versions, re.DOTALL)
        assert found, f"{directory.name}/versions.tf pins no aws version"
        floor = re.search(r">=\s*(\d+)\.(\d+)", found.group(1))
        assert floor and (int(floor.group(1)), int(floor.group(2))) >= PROVIDER_FLOOR, (
            f"{directory.name}/versions.tf requires aws {found.group(1)!r}; the floor is >= 6.29"
        )


CHECKS = {
    check.__name__: check
    for check in (
        check_access_mode_wired,
        check_principals_per_mode,
        check_no_table_in_default_catalog,
        check_firehose_route,
        check_producer_concurrency,
        check_provider_floor,
    )
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str, mode: str) -> None:
    CHECKS[check](ModeStack(TERRAFORM_DIR, profile, mode))


# (check, modes it must fail in, file under terraform/, text, replacement)
BOTH = MODES
CARELESS_EDITS = [
    (
        "check_access_mode_wired",
        BOTH,
        "envs/prod/variables.tf",
        'default     = "iam"',
        'default     = "lake_formation"',
    ),
    (
        "check_access_mode_wired",
        BOTH,
        "envs/prod/main.tf",
        "access_mode          = var.s3tables_access_mode",
        'access_mode          = "iam"',
    ),
    ("check_principals_per_mode", ("iam",), "modules/firehose/main.tf", '"s3tables:PutTableData",', ""),
    (
        "check_principals_per_mode",
        ("iam",),
        "modules/iam/main.tf",
        'actions   = ["s3tables:GetTableBucket", "s3tables:GetNamespace"]',
        'actions   = ["s3tables:GetTableBucket"]',
    ),
    ("check_principals_per_mode", ("iam",), "modules/lambda/main.tf", '"s3tables:GetTableMetadataLocation", ', ""),
    (
        "check_principals_per_mode",
        ("lake_formation",),
        "modules/iam/main.tf",
        'permissions = ["SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER"]',
        'permissions = ["SELECT", "DESCRIBE", "ALTER"]',
    ),
    (
        "check_principals_per_mode",
        ("lake_formation",),
        "modules/firehose/main.tf",
        'permissions = ["SELECT", "INSERT", "ALTER", "DESCRIBE"]',
        'permissions = ["SELECT", "DESCRIBE"]',
    ),
    (
        "check_principals_per_mode",
        ("lake_formation",),
        "modules/iam/main.tf",
        "    catalog_id    = var.glue_catalog_id\n",
        "",
    ),
    (
        "check_principals_per_mode",
        ("lake_formation",),
        "modules/firehose/main.tf",
        'resource "aws_iam_role_policy" "lake_formation" {\n  count  = local.lake_formation_mode ? 1 : 0',
        'resource "aws_iam_role_policy" "lake_formation" {\n  count  = 0',
    ),
    (
        "check_no_table_in_default_catalog",
        BOTH,
        "modules/glue/main.tf",
        'resource "aws_glue_catalog_database" "link" {',
        'resource "aws_glue_catalog_table" "health_records" {\n  name          = "health_records"\n'
        '  database_name = aws_glue_catalog_database.link.name\n}\n\nresource "aws_glue_catalog_database" "link" {',
    ),
    (
        "check_no_table_in_default_catalog",
        BOTH,
        "modules/glue/main.tf",
        "    database_name = var.namespace",
        '    database_name = "default"',
    ),
    ("check_firehose_route", BOTH, "modules/firehose/main.tf", "append_only = true", "append_only = false"),
    (
        "check_firehose_route",
        BOTH,
        "modules/firehose/main.tf",
        'catalog_arn = "${local.glue_arn}:catalog"',
        'catalog_arn = "${local.glue_arn}:catalog/${local.s3tables_catalog}"',
    ),
    (
        "check_firehose_route",
        BOTH,
        "modules/firehose/main.tf",
        "database_name = var.resource_link_name",
        "database_name = var.namespace",
    ),
    (
        "check_firehose_route",
        ("lake_formation",),
        "modules/firehose/main.tf",
        "    aws_lakeformation_permissions.table,\n",
        "",
    ),
    (
        "check_firehose_route",
        ("iam",),
        "modules/firehose/main.tf",
        "    aws_iam_role_policy.s3tables_iam_mode,\n",
        "",
    ),
    (
        "check_producer_concurrency",
        BOTH,
        "envs/prod/variables.tf",
        'low concurrency quota: docs/operations/deploying.md."\n  type        = number\n  default     = null',
        'low concurrency quota: docs/operations/deploying.md."\n  type        = number\n  default     = 10',
    ),
    (
        "check_producer_concurrency",
        BOTH,
        "envs/prod/main.tf",
        "reserved_concurrency = var.producer_reserved_concurrency",
        "reserved_concurrency = 10",
    ),
    ("check_provider_floor", BOTH, "modules/glue/versions.tf", 'version = ">= 6.29, < 7.0"', 'version = ">= 5.80"'),
]


@pytest.mark.parametrize(("check", "modes", "relative", "text", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(
    tmp_path: Path, check: str, modes: tuple[str, ...], relative: str, text: str, replacement: str
) -> None:
    root = copy(tmp_path)
    target = root / relative
    source = target.read_text(encoding="utf-8")
    assert source.count(text) == 1, f"{relative} no longer contains {text!r} exactly once: update this edit"
    target.write_text(source.replace(text, replacement), encoding="utf-8")
    for mode in modes:
        with pytest.raises(AssertionError):
            CHECKS[check](ModeStack(root, "standard", mode))


def test_a_pristine_copy_passes_every_check_in_both_modes(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    root = copy(tmp_path)
    for mode in MODES:
        for check in CHECKS.values():
            check(ModeStack(root, "standard", mode))
