# The delivery stream: Direct PUT -> Iceberg table on S3 Tables, buffered 5 MB / 300 s, append-only,
# with an S3 error output and CloudWatch logging, and a role that may write only that table and the
# error prefix.
#
# The route (one, both access modes): the stream names the DEFAULT catalog and, as its database, the
# resource link modules/glue creates there to the table bucket's namespace. Amazon Data Firehose
# Developer Guide, "Prerequisites to use Apache Iceberg Tables as a destination" ("Prerequisites to
# deliver to Amazon S3 Tables"): "Firehose streams data to tables in databases registered in the
# default catalog of the AWS Glue Data Catalog. To stream data to tables in S3 table buckets, create
# a resource link in the default catalog that points to the namespace in table bucket."
# What the role needs for it, by var.access_mode (Amazon S3 User Guide, "Integrating Amazon S3
# Tables with AWS analytics services", and "s3-tables-sql" for the S3 Tables actions of a write):
#   both modes      Glue GetDatabase/GetTable/UpdateTable on the link and on its target (the
#                   s3tablescatalog catalog chain, the namespace's database, the table);
#   iam             s3tables:GetTableBucket/GetNamespace on the bucket; GetTable,
#                   GetTableMetadataLocation, GetTableData, PutTableData, UpdateTableMetadataLocation
#                   on the table (an INSERT);
#   lake_formation  lakeformation:GetDataAccess, and Lake Formation grants: DESCRIBE on the link and
#                   on the namespace, SELECT INSERT ALTER DESCRIBE on the table. The stream is created
#                   only after them (depends_on).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  glue_arn   = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.region}:${local.account_id}"
  # The table as the Glue Data Catalog federates it from S3 Tables.
  s3tables_catalog = "s3tablescatalog/${var.table_bucket_name}"
  error_objects    = "${var.error_bucket_arn}/${var.error_output_prefix}*"

  iam_mode            = var.access_mode == "iam"
  lake_formation_mode = var.access_mode == "lake_formation"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:The log group holds delivery error messages (no record payloads); the service-owned CloudWatch Logs encryption is enough and a CMK would need its own key policy.
  name              = "/aws/kinesisfirehose/${var.stream_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_stream" "delivery" {
  name           = "IcebergDelivery"
  log_group_name = aws_cloudwatch_log_group.this.name
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }

    # Only Firehose acting for this account (confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.stream_name}-firehose"
  description        = "Firehose ${var.stream_name}: writes ${var.namespace}.${var.table_name} on S3 Tables and its error prefix, nothing else."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "delivery" {
  # Firehose resolves the link and commits to the table through the Glue Data Catalog: the default
  # catalog, the link and the table under it, and the link's target in the S3 Tables catalog.
  statement {
    sid     = "IcebergTableThroughGlue"
    actions = ["glue:GetTable", "glue:GetDatabase", "glue:UpdateTable"]
    resources = [
      "${local.glue_arn}:catalog",
      "${local.glue_arn}:database/${var.resource_link_name}",
      "${local.glue_arn}:table/${var.resource_link_name}/${var.table_name}",
      "${local.glue_arn}:catalog/s3tablescatalog",
      "${local.glue_arn}:catalog/${local.s3tables_catalog}",
      "${local.glue_arn}:database/${local.s3tables_catalog}/${var.namespace}",
      "${local.glue_arn}:table/${local.s3tables_catalog}/${var.namespace}/${var.table_name}",
    ]
  }

  # The S3 actions AWS documents for a Firehose error output, confined to the error prefix.
  statement {
    sid       = "ErrorOutputBucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = [var.error_bucket_arn]
  }

  statement {
    sid       = "ErrorOutputListing"
    actions   = ["s3:ListBucket"]
    resources = [var.error_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.error_output_prefix}*"]
    }
  }

  statement {
    sid       = "ErrorOutputObjects"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    resources = [local.error_objects]
  }

  statement {
    sid       = "DeliveryErrorLogs"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:${aws_cloudwatch_log_stream.delivery.name}"]
  }
}

resource "aws_iam_role_policy" "delivery" {
  name   = "iceberg-delivery"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.delivery.json
}

# -- iam mode: the S3 Tables actions of an INSERT, on this bucket and table only --------------------
data "aws_iam_policy_document" "s3tables_iam_mode" {
  count = local.iam_mode ? 1 : 0

  # GetNamespace is authorized on the table bucket: S3 Tables' resource types are the table bucket
  # and the table (no namespace ARN).
  statement {
    sid       = "S3TablesBucketAndNamespace"
    actions   = ["s3tables:GetTableBucket", "s3tables:GetNamespace"]
    resources = [var.table_bucket_arn]
  }

  statement {
    sid = "S3TablesWriteTheTable"
    actions = [
      "s3tables:GetTable",
      "s3tables:GetTableMetadataLocation",
      "s3tables:GetTableData",
      "s3tables:PutTableData",
      "s3tables:UpdateTableMetadataLocation",
    ]
    resources = [var.table_arn]
  }
}

resource "aws_iam_role_policy" "s3tables_iam_mode" {
  count  = local.iam_mode ? 1 : 0
  name   = "s3tables-iam-mode"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.s3tables_iam_mode[0].json
}

# -- lake_formation mode: vended credentials, scoped by the grants below ----------------------------
data "aws_iam_policy_document" "lake_formation" {
  count = local.lake_formation_mode ? 1 : 0

  # Lake Formation has no resource-level permissions: the grants on the one table scope this.
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

# The link in the default catalog (the stream's database).
resource "aws_lakeformation_permissions" "link" {
  count       = local.lake_formation_mode ? 1 : 0
  principal   = aws_iam_role.this.arn
  permissions = ["DESCRIBE"]

  database {
    name = var.resource_link_name
  }
}

# The namespace and the table in the table bucket's catalog (<account>:s3tablescatalog/<bucket>).
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
  permissions = ["SELECT", "INSERT", "ALTER", "DESCRIBE"]

  table {
    catalog_id    = var.glue_catalog_id
    database_name = var.namespace
    name          = var.table_name
  }
}

resource "aws_kinesis_firehose_delivery_stream" "this" {
  #checkov:skip=CKV_AWS_241:The AWS-owned key encrypts records at rest in the stream; a CMK would add a key to manage for data that lands in an encrypted table within 300 s.
  name        = var.stream_name
  destination = "iceberg"

  server_side_encryption {
    enabled  = true
    key_type = "AWS_OWNED_CMK"
  }

  iceberg_configuration {
    role_arn = aws_iam_role.this.arn
    # The default catalog: the database below is the resource link to the namespace (see the top).
    catalog_arn = "${local.glue_arn}:catalog"

    # Inserts only: Firehose then scales the stream's throughput with its load instead of capping
    # Direct PUT at 1 MiB/s (5 MiB/s in three US/EU regions). AppendOnly can be set only when the
    # stream is created (Amazon Data Firehose Developer Guide, "Considerations and limitations" of
    # Apache Iceberg Tables as a destination), so it is declared from the first apply.
    append_only = true

    # Whichever comes first: 5 MB or 300 s (the local delivery stream has the same semantics).
    buffering_size     = var.buffering_size_mb
    buffering_interval = var.buffering_interval_seconds
    retry_duration     = var.retry_duration_seconds

    # Only records that failed go to S3; delivered ones are in the table.
    s3_backup_mode = "FailedDataOnly"

    destination_table_configuration {
      database_name = var.resource_link_name
      table_name    = var.table_name
    }

    # Records the table refuses (a field with no column, a wrong type) land here, under
    # <prefix>YYYY/MM/DD/HH/, where the firehose_delivery check looks for new error objects.
    s3_configuration {
      role_arn            = aws_iam_role.this.arn
      bucket_arn          = var.error_bucket_arn
      error_output_prefix = var.error_output_prefix
      compression_format  = "UNCOMPRESSED"
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.this.name
      log_stream_name = aws_cloudwatch_log_stream.delivery.name
    }
  }

  # Its role's policies and, in lake_formation mode, its grants exist before the stream does.
  depends_on = [
    aws_iam_role_policy.delivery,
    aws_iam_role_policy.s3tables_iam_mode,
    aws_iam_role_policy.lake_formation,
    aws_lakeformation_permissions.link,
    aws_lakeformation_permissions.namespace,
    aws_lakeformation_permissions.table,
  ]
}
