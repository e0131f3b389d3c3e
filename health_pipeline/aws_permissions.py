"""The IAM actions the code calls in `aws` mode (the Dagster deployment, the producer Lambda): nothing
more, nothing less.

`terraform/modules/iam` grants exactly DAGSTER_ROLE_ACTIONS to the role the deployment assumes (scoped
to the pipeline's resources wherever AWS allows), plus DAGSTER_LAKE_FORMATION_ACTIONS when the table
bucket's access mode is lake_formation; `terraform/modules/lambda` exactly LAMBDA_ROLE_ACTIONS to the
producer's, plus LAMBDA_IAM_MODE_ACTIONS when the access mode is iam. The tests under
`health_pipeline_tests/terraform/` fail when a set and its policy differ. Adding an AWS call to the
code means adding its action here and to the policy.

The access modes (Amazon S3 User Guide, "Integrating Amazon S3 Tables with AWS analytics services"): in
iam mode (AWS's default) IAM policies on the S3 Tables resources and the Glue Data Catalog objects decide
every query; in lake_formation mode Lake Formation vends the data credentials, and its grants (declared
in the same Terraform) decide.
"""

from __future__ import annotations

DAGSTER_ROLE_ACTIONS: frozenset[str] = frozenset(
    {
        # Athena: run the daily summary and the migration DDL in the configured workgroup, poll
        # the state, read the rows, and cancel a query that outlives its timeout.
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
        # Glue: read the catalog's view of the table (and resolve the s3tablescatalog federated
        # catalog); UpdateTable because Athena's ALTER TABLE ADD COLUMNS updates the Glue table with
        # the caller's credentials.
        "glue:GetCatalog",
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
        "glue:UpdateTable",
        # S3 Tables: queries through Glue read the table bucket and the namespace ("s3-tables-sql"),
        # which decides in iam mode.
        "s3tables:GetTableBucket",
        "s3tables:GetNamespace",
        # S3 Tables: PyIceberg reads the live Iceberg schema and snapshots through Glue, then reads
        # the metadata and manifest files from the table's storage itself (it never writes: the
        # migration and the erasure write through Athena).
        "s3tables:GetTable",
        "s3tables:GetTableMetadataLocation",
        "s3tables:GetTableData",
        # S3 Tables maintenance: table_maintenance reports its configuration and last jobs.
        "s3tables:GetTableMaintenanceConfiguration",
        "s3tables:GetTableMaintenanceJobStatus",
        # Erasure and retention: Athena's DELETE on the table writes its files and commits its metadata
        # with the caller's credentials; the receipt reads the bucket's unreferenced-file removal days.
        "s3tables:PutTableData",
        "s3tables:UpdateTableMetadataLocation",
        "s3tables:GetTableBucketMaintenanceConfiguration",
        # S3: Athena writes and reads results with the caller's credentials (athena-results/), the
        # engine reads a summary's result object there in one GetObject, and the summary keeps each
        # day's rows there (summaries/); exports are PUT under exports/; the
        # delivery check lists and reads Firehose's error output.
        "s3:GetBucketLocation",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        # Erasure: a person's lines out of exports, kept summaries and error objects, with every
        # replaced version (the bucket is versioned); retention: the expired days' files.
        "s3:ListBucketVersions",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        # Firehose: the delivery check reads the stream's status and destination.
        "firehose:DescribeDeliveryStream",
        # SNS: the alerts sensor publishes to the alerts topic (and `health-pipeline alerts test`);
        # the topic is encrypted with its own KMS key, which a publisher must be allowed to use.
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        # CloudWatch: delivered/failed rows and freshness of the stream. Metric reads support no
        # resource-level permissions, so this is the one grant on "*" (besides Lake Formation's).
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:GetMetricData",
        # CloudWatch: alerts_sensor's heartbeat and daily_summary_csv's export metric, which the watch
        # alarms read; no resource type either, so "*" under the cloudwatch:namespace condition.
        "cloudwatch:PutMetricData",
    }
)

# lake_formation mode only: Athena (and Glue) on the S3 Tables catalog vend data credentials through
# Lake Formation for the caller; it has no resource-level permissions (the grants on the namespace and
# the table scope it).
DAGSTER_LAKE_FORMATION_ACTIONS: frozenset[str] = frozenset({"lakeformation:GetDataAccess"})

# The producer Lambda's own role (terraform/modules/lambda), each action on its one resource.
LAMBDA_ROLE_ACTIONS: frozenset[str] = frozenset(
    {
        # lambda_handler.glue_schema: the table's columns, once per instance, from the table bucket's
        # catalog (its account from sts:GetCallerIdentity, which needs no permission).
        "glue:GetTable",
        # health_pipeline.delivery.firehose: the validated records, in batches.
        "firehose:PutRecordBatch",
        # The Lambda runtime writes the function's log (its log group is Terraform's, so no CreateLogGroup).
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
)

# iam mode only: Glue's GetTable on an S3 Tables table reads its current metadata with the caller's
# permissions on the bucket, the namespace and the table. In lake_formation mode a DESCRIBE grant on
# the namespace and the table replaces them.
LAMBDA_IAM_MODE_ACTIONS: frozenset[str] = frozenset(
    {
        "s3tables:GetTableBucket",
        "s3tables:GetNamespace",
        "s3tables:GetTable",
        "s3tables:GetTableMetadataLocation",
        "s3tables:GetTableData",
    }
)
