# The Athena workgroup and the pipeline's general-purpose bucket: Athena query results under
# `results_prefix`, the exported CSV summaries, and Firehose's error output (other prefixes).

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket per environment; CloudTrail S3 data events are the audit trail for this bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not wanted: results expire in days and exports are re-derived from the Iceberg table by re-materializing.
  #checkov:skip=CKV_AWS_145:SSE-S3 is deliberate: the workgroup writes results with SSE_S3 (Athena refuses writes to S3 Tables from SSE-KMS workgroups) and a bucket KMS key would add kms grants to every reader and writer.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events: the Dagster sensors poll (Firehose error objects are listed by prefix).
  bucket = var.bucket_name

  # Exports and error objects are not disposable: a destroy must fail while objects exist.
  force_destroy = false
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

# Exports are replaced on re-materialization: versioning keeps the previous file for a while.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # Athena result CSVs are read by the pipeline right after the query: they are scratch.
  rule {
    id     = "expire-athena-results"
    status = "Enabled"

    filter {
      prefix = var.results_prefix
    }

    expiration {
      days = var.results_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  dynamic "rule" {
    for_each = var.expiring_prefixes
    content {
      id     = "expire-${trimsuffix(rule.key, "/")}"
      status = "Enabled"

      filter {
        prefix = rule.key
      }

      expiration {
        days = rule.value
      }

      noncurrent_version_expiration {
        noncurrent_days = 1
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }

  # Everything else (the exports): keep current versions, drop replaced ones after a while.
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_athena_workgroup" "this" {
  name        = var.workgroup_name
  description = "health-pipeline: daily summaries, schema migrations (Athena DDL) and erasures (DELETE)."
  state       = "ENABLED"

  # Saved queries and history are kept if someone runs `terraform destroy` by mistake.
  force_destroy = false

  configuration {
    # Clients cannot override the output location, encryption or the cutoff per query.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    # A query that would scan more than this is cancelled by Athena (billed per byte scanned).
    bytes_scanned_cutoff_per_query = var.bytes_scanned_cutoff_per_query

    # DML on S3 Tables (the erasure's DELETE) is refused in a workgroup with Requester Pays enabled,
    # and in one that encrypts results with SSE-KMS or CSE-KMS (Amazon Athena User Guide, "Register
    # S3 table bucket catalogs and query Tables from Athena", considerations and limitations).
    requester_pays_enabled = false

    engine_version {
      # Iceberg DDL and S3 Tables need engine version 3.
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${aws_s3_bucket.this.bucket}/${var.results_prefix}"
      expected_bucket_owner = data.aws_caller_identity.current.account_id

      # SSE-S3, not SSE-KMS: Athena refuses write operations (INSERT, UPDATE, DELETE, MERGE) on S3
      # Tables in SSE-KMS and CSE-KMS workgroups.
      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}
