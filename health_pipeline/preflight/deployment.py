"""What the deployment needs, as the preflight checks it: one place to align with the Terraform.

Every expectation `health-pipeline preflight` holds the live account to is here or is read from where
the project already keeps it: the Dagster role's actions from `health_pipeline.aws_permissions`, the
table's columns and layout from the Terraform (`health_pipeline.schema`), the alarm names from
`terraform/modules/alarms`. A change to the Terraform's grants, workgroup or stream is a change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from health_pipeline.aws_permissions import DAGSTER_LAKE_FORMATION_ACTIONS, DAGSTER_ROLE_ACTIONS
from health_pipeline.schema.terraform import TerraformSchemaError, _load, _unquote
from health_pipeline.settings import Settings

# -- the Athena workgroup (terraform/modules/athena) ---------------------------------------------------
# Iceberg DDL and S3 Tables need engine version 3; DML on S3 Tables (the erasure's DELETE, retention) is
# refused in a workgroup whose results are SSE-KMS or CSE-KMS encrypted, or that has Requester Pays on
# (Athena User Guide, "Register S3 table bucket catalogs and query Tables from Athena").
ATHENA_ENGINE_VERSION = "Athena engine version 3"
RESULTS_ENCRYPTION = "SSE_S3"
KMS_RESULTS_ENCRYPTION = frozenset({"SSE_KMS", "CSE_KMS"})

# -- the stream (terraform/modules/firehose) -------------------------------------------------------
# AppendOnly lets Direct PUT to Iceberg scale past 1 MiB/s in Tokyo, and can be set only when the stream
# is created (Firehose Developer Guide, "Considerations and limitations" of Apache Iceberg destinations).
STREAM_APPEND_ONLY = True

# -- access modes (Terraform's s3tables_access_mode) ---------------------------------------------
# In Lake Formation mode the integration registers the table buckets' location with Lake Formation
# ("Enabling Amazon S3 Tables integration", Lake Formation Developer Guide); in IAM mode nothing is.
LAKE_FORMATION_MODE, IAM_MODE = "lake_formation", "iam"
# The Lake Formation table permissions each principal needs in lake_formation mode (S3 User Guide,
# "Managing access to a table or database with Lake Formation"): the Dagster role reads (SELECT),
# migrates (ALTER), and erases (DELETE needs INSERT too); Firehose appends and commits. ALL covers any.
DAGSTER_TABLE_PERMISSIONS = frozenset({"SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER"})
FIREHOSE_TABLE_PERMISSIONS = frozenset({"SELECT", "INSERT", "DESCRIBE", "ALTER"})

# -- the Dagster role's IAM actions, and the resource each one is simulated on ----------------------
# Keys of `DeploymentArns.resources`; an action of DAGSTER_ROLE_ACTIONS missing here fails a unit test.
ACTION_RESOURCES: dict[str, str] = {
    **dict.fromkeys(
        (
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
        ),
        "workgroup",
    ),
    **dict.fromkeys(
        ("glue:GetCatalog", "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable"), "glue_table"
    ),
    "lakeformation:GetDataAccess": "any",
    **dict.fromkeys(
        (
            "s3tables:GetTable",
            "s3tables:GetTableMetadataLocation",
            "s3tables:GetTableData",
            "s3tables:GetTableMaintenanceConfiguration",
            "s3tables:GetTableMaintenanceJobStatus",
            "s3tables:PutTableData",
            "s3tables:UpdateTableMetadataLocation",
        ),
        "s3tables_table",
    ),
    **dict.fromkeys(
        ("s3tables:GetTableBucket", "s3tables:GetNamespace", "s3tables:GetTableBucketMaintenanceConfiguration"),
        "s3tables_bucket",
    ),
    **dict.fromkeys(("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketVersions"), "buckets"),
    **dict.fromkeys(("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"), "objects"),
    "firehose:DescribeDeliveryStream": "stream",
    # The alerts check simulates these on the topic and its key.
    "sns:Publish": "topic",
    **dict.fromkeys(("kms:GenerateDataKey", "kms:Decrypt"), "topic_key"),
    **dict.fromkeys(("cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData", "cloudwatch:PutMetricData"), "any"),
}
# Needed in one access mode only: in IAM mode every principal needs the S3 Tables data actions (S3 User
# Guide, "s3-tables-sql"); in Lake Formation mode Lake Formation vends the data credentials instead.
IAM_MODE_ONLY = frozenset(
    {
        "s3tables:GetTableMetadataLocation",
        "s3tables:GetTableData",
        "s3tables:PutTableData",
        "s3tables:UpdateTableMetadataLocation",
        "s3tables:GetTableBucket",
        "s3tables:GetNamespace",
    }
)
GROUP_LABELS = {
    "workgroup": "Athena workgroup",
    "glue_table": "Glue catalog, database and table",
    "s3tables_table": "S3 Tables table",
    "s3tables_bucket": "S3 Tables table bucket",
    "buckets": "S3 buckets (listing)",
    "objects": "S3 results and exports",
    "stream": "Firehose stream",
    "any": "CloudWatch metrics and Lake Formation (no resource-level permissions)",
}
ALERT_GROUPS = ("topic", "topic_key")
MARKER_PREFIX = ".preflight/"  # under the export prefix: the marker written and removed


def dagster_actions(mode: str) -> dict[str, list[str]]:
    """The Dagster role's actions by resource group, for an access mode (alerts' groups included)."""
    needed = (
        DAGSTER_ROLE_ACTIONS
        if mode == IAM_MODE
        else (DAGSTER_ROLE_ACTIONS - IAM_MODE_ONLY) | DAGSTER_LAKE_FORMATION_ACTIONS
    )
    groups: dict[str, list[str]] = {}
    for action in sorted(needed):
        groups.setdefault(ACTION_RESOURCES[action], []).append(action)
    return groups


def unplaced_actions() -> set[str]:
    """Actions the code calls that the preflight does not know where to simulate (must be empty)."""
    return set(DAGSTER_ROLE_ACTIONS | DAGSTER_LAKE_FORMATION_ACTIONS) - set(ACTION_RESOURCES)


def alarm_names(terraform_dir: Path, stream_name: str) -> list[str]:
    """The names of terraform/modules/alarms' CloudWatch alarms for the stream, in file order (the watch
    alarms of watch.tf, named from the deployment's prefix, are found by their metrics instead)."""
    module = terraform_dir / "modules" / "alarms"
    if not module.is_dir():
        raise TerraformSchemaError(f"no Terraform alarms module at {module}; set HEALTH_PIPELINE_TERRAFORM_DIR.")
    names = []
    for tf_file in sorted(module.glob("*.tf")):
        for resource in _load(tf_file).get("resource", []):
            for kind, named in resource.items():
                if _unquote(kind) != "aws_cloudwatch_metric_alarm":
                    continue
                for body in named.values():
                    if "${var.name_prefix}" in _unquote(body.get("alarm_name", "")):
                        continue  # a watch alarm (watch.tf): found by its metric, see watch_metrics
                    name = _unquote(body.get("alarm_name", "")).replace("${var.stream_name}", stream_name)
                    if not name or "${" in name:
                        raise TerraformSchemaError(
                            f"{tf_file}: an alarm's name {body.get('alarm_name')!r} is not the stream name and"
                            " literal text; the preflight cannot tell which alarm to look for."
                        )
                    names.append(name)
    return names


def s3tables_bucket(settings: Settings) -> str | None:
    """The table bucket when the catalog is S3 Tables' federated one (`s3tablescatalog/<bucket>`)."""
    match = re.fullmatch(r"s3tablescatalog/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])", settings.athena_catalog)
    return match.group(1) if match else None


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix


@dataclass(frozen=True)
class DeploymentArns:
    """The ARNs of the deployment's resources, from the settings and the caller's account."""

    settings: Settings
    partition: str
    account: str

    @property
    def region(self) -> str:
        return self.settings.aws_region

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"

    @property
    def glue_catalog_id(self) -> str | None:
        """The Glue API's CatalogId for the configured catalog (None: the account's default catalog)."""
        bucket = s3tables_bucket(self.settings)
        return f"{self.account}:s3tablescatalog/{bucket}" if bucket else None

    @property
    def s3tables_catalog_arn(self) -> str | None:
        bucket = s3tables_bucket(self.settings)
        return self.arn("glue", f"catalog/s3tablescatalog/{bucket}") if bucket else None

    @property
    def default_catalog_arn(self) -> str:
        return self.arn("glue", "catalog")

    @property
    def table_bucket_arn(self) -> str | None:
        bucket = s3tables_bucket(self.settings)
        return self.arn("s3tables", f"bucket/{bucket}") if bucket else None

    def glue_table_chain(self) -> list[str]:
        """What Glue authorizes a table call against: the catalog chain, the database and the table."""
        s, bucket = self.settings, s3tables_bucket(self.settings)
        if bucket is None:
            return [
                self.arn("glue", "catalog"),
                self.arn("glue", f"database/{s.database}"),
                self.arn("glue", f"table/{s.database}/{s.table}"),
            ]
        federated = f"s3tablescatalog/{bucket}"
        return [
            self.arn("glue", "catalog"),
            self.arn("glue", "catalog/s3tablescatalog"),
            self.arn("glue", f"catalog/{federated}"),
            self.arn("glue", f"database/{federated}/{s.database}"),
            self.arn("glue", f"table/{federated}/{s.database}/{s.table}"),
        ]

    @property
    def workgroup_arn(self) -> str:
        return self.arn("athena", f"workgroup/{self.settings.athena_workgroup}")

    @property
    def stream_arn(self) -> str:
        return self.arn("firehose", f"deliverystream/{self.settings.firehose_stream}")

    def object_arns(self) -> list[str]:
        """An object under Athena's results and one under the exports: what the role reads and writes."""
        return [
            f"arn:{self.partition}:s3:::{bucket}/{prefix}{MARKER_PREFIX}object" for bucket, prefix in self.prefixes()
        ]

    def prefixes(self) -> list[tuple[str, str]]:
        return [split_s3(self.settings.athena_output), split_s3(self.settings.export_uri)]

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"
