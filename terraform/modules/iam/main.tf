# The role the Dagster deployment assumes in `aws` mode. It may do exactly what the code calls
# (health_pipeline/aws_permissions.py, checked by health_pipeline_tests/terraform/test_access.py), on the
# pipeline's own resources wherever AWS has resource-level permissions for the action.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  glue_arn   = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.region}:${local.account_id}"

  lake_formation_mode = var.access_mode == "lake_formation"

  s3tables_catalog = "s3tablescatalog/${var.table_bucket_name}"
  # The catalog objects Glue authorizes a table call against: the catalog chain, the namespace's
  # database and the table, in the S3 Tables federation (the code addresses that catalog directly:
  # HEALTH_PIPELINE_CATALOG). Nothing in the default catalog: no table is declared there.
  glue_catalogs = [
    "${local.glue_arn}:catalog",
    "${local.glue_arn}:catalog/s3tablescatalog",
    "${local.glue_arn}:catalog/${local.s3tables_catalog}",
  ]
  glue_databases = [
    "${local.glue_arn}:database/${local.s3tables_catalog}/${var.namespace}",
  ]
  live_table       = "${local.glue_arn}:table/${local.s3tables_catalog}/${var.namespace}/${var.table_name}"
  table_bucket_arn = "arn:${data.aws_partition.current.partition}:s3tables:${data.aws_region.current.region}:${local.account_id}:bucket/${var.table_bucket_name}"
  receipts_prefix  = "erasure/receipts/"
  glue_tables = [
    local.live_table,
    # GetTables lists a database: the namespace holds only this table.
    "${local.glue_arn}:table/${local.s3tables_catalog}/${var.namespace}/*",
  ]
}

data "aws_iam_policy_document" "assume" {
  dynamic "statement" {
    for_each = length(var.trusted_service_principals) > 0 ? [1] : []
    content {
      sid     = "ServiceAssumesRole"
      actions = ["sts:AssumeRole"]

      principals {
        type        = "Service"
        identifiers = var.trusted_service_principals
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.trusted_role_arns) > 0 ? [1] : []
    content {
      sid     = "RoleAssumesRole"
      actions = ["sts:AssumeRole"]

      principals {
        type        = "AWS"
        identifiers = var.trusted_role_arns
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  description          = "health-pipeline Dagster deployment (aws mode): Athena on ${var.workgroup_name}, reads of the health_records table, results and exports in the pipeline bucket."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = length(var.trusted_service_principals) + length(var.trusted_role_arns) > 0
      error_message = "Nobody could assume the Dagster role: set trusted_service_principals or trusted_role_arns to where Dagster runs."
    }
  }
}

data "aws_iam_policy_document" "dagster" {
  statement {
    sid = "AthenaQueriesInWorkgroup"
    actions = [
      "athena:StartQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:StopQueryExecution",
    ]
    resources = [var.workgroup_arn]
  }

  statement {
    sid       = "GlueReadTable"
    actions   = ["glue:GetCatalog", "glue:GetDatabase", "glue:GetTable", "glue:GetTables"]
    resources = concat(local.glue_catalogs, local.glue_databases, local.glue_tables)
  }

  # Athena's ALTER TABLE ADD COLUMNS (the schema migration) updates the live table's Glue entry.
  statement {
    sid       = "GlueUpdateLiveTable"
    actions   = ["glue:UpdateTable"]
    resources = concat(local.glue_catalogs, local.glue_databases, [local.live_table])
  }

  # Queries through Glue read the table bucket and the namespace (Amazon S3 User Guide,
  # "s3-tables-sql"): in iam mode these decide; in lake_formation mode they are unused. GetNamespace
  # is authorized on the table bucket (S3 Tables' resource types are the table bucket and the table).
  statement {
    sid       = "S3TablesBucketAndNamespace"
    actions   = ["s3tables:GetTableBucket", "s3tables:GetNamespace"]
    resources = [local.table_bucket_arn]
  }

  statement {
    sid = "S3TablesReadTable"
    actions = [
      "s3tables:GetTable",
      "s3tables:GetTableMetadataLocation",
      "s3tables:GetTableData",
      "s3tables:GetTableMaintenanceConfiguration",
      "s3tables:GetTableMaintenanceJobStatus",
    ]
    resources = [var.table_arn]
  }

  # Erasure and retention: Athena's DELETE writes the table's new files and commits its metadata
  # with the caller's credentials (Amazon S3 User Guide, "Granting access with SQL semantics").
  statement {
    sid       = "S3TablesDeleteRows"
    actions   = ["s3tables:PutTableData", "s3tables:UpdateTableMetadataLocation"]
    resources = [var.table_arn]
  }

  # The erasure's receipt says when the bucket's unreferenced-file removal will have deleted the rows.
  statement {
    sid       = "S3TablesReadBucketMaintenance"
    actions   = ["s3tables:GetTableBucketMaintenanceConfiguration"]
    resources = [local.table_bucket_arn]
  }

  statement {
    sid       = "PipelineBucketLocation"
    actions   = ["s3:GetBucketLocation"]
    resources = [var.bucket_arn]
  }

  statement {
    sid       = "ListResultsAndErrorOutput"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        "${var.results_prefix}*",
        "${var.error_output_prefix}*",
        "${var.exports_prefix}*",
      ]
    }
  }

  # Erasure deletes the replaced versions of what it rewrites (exports, kept summaries, error objects).
  statement {
    sid       = "ListVersionsToErase"
    actions   = ["s3:ListBucketVersions"]
    resources = [var.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        "${var.results_prefix}*",
        "${var.error_output_prefix}*",
        "${var.exports_prefix}*",
      ]
    }
  }

  # Athena writes results with the caller's credentials; the engine reads a summary's result object.
  statement {
    sid       = "AthenaResults"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.bucket_arn}/${var.results_prefix}*"]
  }

  statement {
    sid       = "WriteExports"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.bucket_arn}/${var.exports_prefix}*"]
  }

  # Erasure removes a person's lines from exports, kept summaries and error objects (rewriting an
  # error object that holds others' records too), with every replaced version; retention removes
  # the expired days' summaries and CSVs.
  statement {
    sid     = "EraseObjects"
    actions = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = [
      "${var.bucket_arn}/${var.results_prefix}*",
      "${var.bucket_arn}/${var.exports_prefix}*",
      "${var.bucket_arn}/${var.error_output_prefix}*",
    ]
  }

  statement {
    sid       = "FirehoseErrorOutput"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.bucket_arn}/${var.error_output_prefix}*"]
  }

  # Erasure receipts are kept (no lifecycle rule expires this prefix): written once, never read back.
  statement {
    sid       = "WriteErasureReceipts"
    actions   = ["s3:PutObject"]
    resources = ["${var.bucket_arn}/${local.receipts_prefix}*"]
  }

  statement {
    sid       = "DescribeDeliveryStream"
    actions   = ["firehose:DescribeDeliveryStream"]
    resources = [var.stream_arn]
  }

  # The alerts sensor publishes to the alerts topic, and only to it; the topic is encrypted with its
  # own key, which a publisher must be allowed to use (SNS: "Configuring AWS KMS permissions").
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [var.alert_topic_arn]
  }

  statement {
    sid       = "EncryptAlerts"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.alert_key_arn]
  }

  # CloudWatch metric reads do not support resource-level permissions.
  statement {
    sid       = "ReadDeliveryMetrics"
    actions   = ["cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData"]
    resources = ["*"]
  }

  # alerts_sensor's heartbeat and daily_summary_csv's export metric, which modules/alarms watches.
  # PutMetricData has no resource type: the cloudwatch:namespace condition key limits it to the
  # pipeline's own namespace (CloudWatch User Guide, "Using condition keys to limit access to
  # CloudWatch namespaces").
  statement {
    sid       = "PublishWatchMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metric_namespace]
    }
  }
}

resource "aws_iam_role_policy" "dagster" {
  name   = "health-pipeline"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.dagster.json
}

# -- lake_formation mode: vended credentials and the grants that scope them -------------------------
# Lake Formation has no resource-level permissions: the grants on the one namespace and table scope
# GetDataAccess. The erasure and retention DELETE rows: a principal that deletes rows needs DELETE
# and INSERT (Athena writes position-delete files); the migration's ADD COLUMNS needs ALTER.
data "aws_iam_policy_document" "lake_formation" {
  count = local.lake_formation_mode ? 1 : 0

  statement {
    sid       = "LakeFormationVendedCredentials"
    actions   = ["lakeformation:GetDataAccess"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "lake_formation" {
  count  = local.lake_formation_mode ? 1 : 0
  name   = "lake-formation"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.lake_formation[0].json
}

resource "aws_lakeformation_permissions" "namespace" {
  count       = local.lake_formation_mode ? 1 : 0
  principal   = aws_iam_role.this.arn
  permissions = ["DESCRIBE"]

  database {
    catalog_id = var.glue_catalog_id
    name       = var.namespace
  }
}

resource "aws_lakeformation_permissions" "table" {
  count       = local.lake_formation_mode ? 1 : 0
  principal   = aws_iam_role.this.arn
  permissions = ["SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER"]

  table {
    catalog_id    = var.glue_catalog_id
    database_name = var.namespace
    name          = var.table_name
  }
}
