# The delivery stream: Direct PUT -> Iceberg table on S3 Tables, buffered 5 MB / 300 s, with an S3
# error output and CloudWatch logging, and a role that may write only that table and the error prefix.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  glue_arn   = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.region}:${local.account_id}"
  # The table as the Glue Data Catalog federates it from S3 Tables.
  s3tables_catalog = "s3tablescatalog/${var.table_bucket_name}"
  error_objects    = "${var.error_bucket_arn}/${var.error_output_prefix}*"
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
  # Firehose resolves and commits to the table through the Glue federation of S3 Tables.
  statement {
    sid     = "IcebergTableThroughGlue"
    actions = ["glue:GetTable", "glue:GetDatabase", "glue:UpdateTable"]
    resources = [
      "${local.glue_arn}:catalog",
      "${local.glue_arn}:catalog/s3tablescatalog",
      "${local.glue_arn}:catalog/${local.s3tables_catalog}",
      "${local.glue_arn}:database/${local.s3tables_catalog}/${var.namespace}",
      "${local.glue_arn}:table/${local.s3tables_catalog}/${var.namespace}/${var.table_name}",
    ]
  }

  # Lake Formation vends the credentials for the table's data; it has no resource-level
  # permissions, so the grant on the one table (docs/operations/deploying.md) is what scopes the access.
  statement {
    sid       = "LakeFormationVendedCredentials"
    actions   = ["lakeformation:GetDataAccess"]
    resources = ["*"]
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

resource "aws_kinesis_firehose_delivery_stream" "this" {
  #checkov:skip=CKV_AWS_241:The AWS-owned key encrypts records at rest in the stream; a CMK would add a key to manage for data that lands in an encrypted table within 300 s.
  name        = var.stream_name
  destination = "iceberg"

  server_side_encryption {
    enabled  = true
    key_type = "AWS_OWNED_CMK"
  }

  iceberg_configuration {
    role_arn    = aws_iam_role.this.arn
    catalog_arn = "${local.glue_arn}:catalog/${local.s3tables_catalog}"

    # Whichever comes first: 5 MB or 300 s (the local delivery stream has the same semantics).
    buffering_size     = var.buffering_size_mb
    buffering_interval = var.buffering_interval_seconds
    retry_duration     = var.retry_duration_seconds

    # Only records that failed go to S3; delivered ones are in the table.
    s3_backup_mode = "FailedDataOnly"

    destination_table_configuration {
      database_name = var.namespace
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

  depends_on = [aws_iam_role_policy.delivery]
}
