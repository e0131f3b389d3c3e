# The producer Lambda (health_pipeline/lambda_handler.py): the app's records in, validated and
# encoded as `health-pipeline send` does, put to Firehose in batches. The package is the zip that
# `make lambda` builds (the handler and the pure-Python record rules; boto3 is the runtime's).
#
# The entry point is a function URL with AWS_IAM auth: every request is signed with SigV4 by a
# principal whose policy allows invoking this function (invoker_role_names); there is no other
# way in (no public URL, no resource policy for anyone else). docs/reference/producer.md.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  glue_arn   = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.region}:${local.account_id}"

  iam_mode            = var.access_mode == "iam"
  lake_formation_mode = var.access_mode == "lake_formation"

  # The Glue objects GetTable is authorized against: the catalog chain down to the table bucket's
  # catalog (s3tablescatalog/<bucket>), the namespace's database and the table whose columns it reads.
  glue_table_path = [
    "${local.glue_arn}:catalog",
    "${local.glue_arn}:catalog/s3tablescatalog",
    "${local.glue_arn}:catalog/${var.catalog}",
    "${local.glue_arn}:database/${var.catalog}/${var.database_name}",
    "${local.glue_arn}:table/${var.catalog}/${var.database_name}/${var.table_name}",
  ]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:The log holds invocation reports and error messages (no record payloads); CloudWatch Logs encrypts it at rest with service keys, and a CMK would need its own key policy.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    # Only Lambda acting for this account (confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-lambda"
  description        = "Producer Lambda ${var.function_name}: puts records to ${var.stream_name}, reads the columns of ${var.database_name}.${var.table_name}, writes its log. Nothing else."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# Exactly the calls the handler makes (health_pipeline/aws_permissions.py, LAMBDA_ROLE_ACTIONS) and
# its log, each on the one resource it needs.
data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "PutRecordsToTheStream"
    actions   = ["firehose:PutRecordBatch"]
    resources = [var.stream_arn]
  }

  statement {
    sid       = "ReadTheTableColumns"
    actions   = ["glue:GetTable"]
    resources = local.glue_table_path
  }

  statement {
    sid       = "WriteItsLog"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "producer"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.lambda.json
}

# -- iam mode: Glue reads the table's columns from its current Iceberg metadata with the caller's
# permissions on the bucket, the namespace and the table (Amazon S3 User Guide, "s3-tables-sql":
# queries through Glue also read the bucket and namespace). Reads only.
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
    sid       = "S3TablesReadTheTableMetadata"
    actions   = ["s3tables:GetTable", "s3tables:GetTableMetadataLocation", "s3tables:GetTableData"]
    resources = [var.table_arn]
  }
}

resource "aws_iam_role_policy" "s3tables_iam_mode" {
  count  = local.iam_mode ? 1 : 0
  name   = "s3tables-iam-mode"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.s3tables_iam_mode[0].json
}

# -- lake_formation mode: the columns are metadata: DESCRIBE on the namespace and the table.
resource "aws_lakeformation_permissions" "namespace" {
  count       = local.lake_formation_mode ? 1 : 0
  principal   = aws_iam_role.this.arn
  permissions = ["DESCRIBE"]

  database {
    catalog_id = var.glue_catalog_id
    name       = var.database_name
  }
}

resource "aws_lakeformation_permissions" "table" {
  count       = local.lake_formation_mode ? 1 : 0
  principal   = aws_iam_role.this.arn
  permissions = ["DESCRIBE"]

  table {
    catalog_id    = var.glue_catalog_id
    database_name = var.database_name
    name          = var.table_name
  }
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on * for a function whose only calls are Glue GetTable (once per instance) and Firehose PutRecordBatch; its log and the Lambda metrics show both.
  #checkov:skip=CKV_AWS_116:Invoked synchronously through the function URL only: the caller gets every rejected or undelivered record back (207), so there is no asynchronous event to dead-letter.
  #checkov:skip=CKV_AWS_117:It calls only the public Firehose, Glue and STS endpoints and reaches nothing in a VPC; a VPC would add a NAT gateway or endpoints and no protection.
  #checkov:skip=CKV_AWS_173:The environment holds names only (stream, database, table, mode), no secret; the service key encrypts it at rest.
  #checkov:skip=CKV_AWS_272:The package is pinned by its SHA-256 (source_code_hash from `make lambda`, reproducible from the commit); code signing would add an AWS Signer profile to keep for the same guarantee.
  function_name = var.function_name
  description   = "health-pipeline producer: validates the app's records and puts them to Firehose ${var.stream_name}."
  role          = aws_iam_role.this.arn

  filename         = var.package_path
  source_code_hash = var.package_base64sha256
  handler          = "health_pipeline.lambda_handler.handler"
  runtime          = var.runtime
  architectures    = ["arm64"]
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds

  # null (the default): no reservation, the function draws on the account's unreserved pool. A
  # reservation must leave at least 100 executions unreserved in the account (AWS Lambda API
  # Reference, PutFunctionConcurrency; Lambda Developer Guide, "Lambda quotas"): new accounts start
  # with a concurrency quota too low for any, and the apply fails.
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      HEALTH_PIPELINE_MODE            = "aws"
      HEALTH_PIPELINE_FIREHOSE_STREAM = var.stream_name
      HEALTH_PIPELINE_CATALOG         = var.catalog
      HEALTH_PIPELINE_DATABASE        = var.database_name
      HEALTH_PIPELINE_TABLE           = var.table_name
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  depends_on = [
    aws_iam_role_policy.lambda,
    aws_iam_role_policy.s3tables_iam_mode,
    aws_lakeformation_permissions.namespace,
    aws_lakeformation_permissions.table,
  ]
}

# The app's entry point. AWS_IAM: Lambda authenticates the SigV4 signature and authorizes the
# caller's identity policy before the function runs; an unsigned request gets 403.
resource "aws_lambda_function_url" "this" {
  function_name      = aws_lambda_function.this.function_name
  authorization_type = "AWS_IAM"
}

# What a caller needs to call the URL: since October 2025 a new function URL needs both actions
# (AWS Lambda, "Control access to Lambda function URLs"). InvokeFunction also lets the same caller
# invoke the function directly, which is just as authenticated.
data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "InvokeTheProducerUrl"
    actions   = ["lambda:InvokeFunctionUrl"]
    resources = [aws_lambda_function.this.arn]

    condition {
      test     = "StringEquals"
      variable = "lambda:FunctionUrlAuthType"
      values   = ["AWS_IAM"]
    }
  }

  statement {
    sid       = "InvokeTheProducer"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }
}

resource "aws_iam_role_policy" "invoke" {
  for_each = toset(var.invoker_role_names)

  name   = "invoke-${var.function_name}"
  role   = each.value
  policy = data.aws_iam_policy_document.invoke.json
}
