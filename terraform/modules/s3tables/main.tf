# The table bucket, its namespace and the health_records Iceberg table on S3 Tables.
#
# Safety: the table holds every record ever delivered. A change to `metadata` (the initial schema)
# forces a REPLACEMENT of aws_s3tables_table, which deletes the table and its data. So:
#   - `metadata` is only read at creation and then ignored: later columns are added by the
#     schema_migration job with Athena DDL (the Glue module stays the desired schema);
#   - `prevent_destroy` makes any plan that would delete the table (or its bucket/namespace) fail.

resource "aws_s3tables_table_bucket" "this" {
  name = var.table_bucket_name

  encryption_configuration = {
    sse_algorithm = var.kms_key_arn == null ? "AES256" : "aws:kms"
    kms_key_arn   = var.kms_key_arn
  }

  # Files no snapshot references any more (after snapshot expiry and compaction) are removed.
  maintenance_configuration = {
    iceberg_unreferenced_file_removal = {
      settings = {
        unreferenced_days = var.unreferenced_days
        non_current_days  = var.non_current_days
      }
      status = "enabled"
    }
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3tables_namespace" "this" {
  namespace        = var.namespace
  table_bucket_arn = aws_s3tables_table_bucket.this.arn

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3tables_table" "health_records" {
  name             = var.table_name
  namespace        = aws_s3tables_namespace.this.namespace
  table_bucket_arn = aws_s3tables_namespace.this.table_bucket_arn
  format           = "ICEBERG"

  encryption_configuration = {
    sse_algorithm = var.kms_key_arn == null ? "AES256" : "aws:kms"
    kms_key_arn   = var.kms_key_arn
  }

  # Firehose commits a small file every buffer interval (300 s): compaction merges them into
  # files of this size, and snapshot management expires the per-commit snapshots. The snapshot
  # age bounds time travel and must stay well above the new-data sensor's look-back.
  maintenance_configuration = {
    iceberg_compaction = {
      settings = {
        target_file_size_mb = var.compaction_target_file_size_mb
      }
      status = "enabled"
    }
    iceberg_snapshot_management = {
      settings = {
        max_snapshot_age_hours = var.max_snapshot_age_hours
        min_snapshots_to_keep  = var.min_snapshots_to_keep
      }
      status = "enabled"
    }
  }

  # The initial schema, from the Glue module's columns (the single source of truth). Iceberg
  # columns are optional (nullable), as the local table declares them, so additive migrations work.
  metadata {
    iceberg {
      schema {
        dynamic "field" {
          for_each = var.columns
          content {
            name     = field.value.name
            type     = lookup(local.glue_to_iceberg_type, field.value.type, field.value.type)
            required = false
          }
        }
      }
    }
  }

  lifecycle {
    prevent_destroy = true
    # Never replace the table because the declared schema moved on: the migration job evolves it.
    ignore_changes = [metadata]
  }
}

locals {
  # Glue spells two types differently from Iceberg; the rest (string, int, timestamp, date,
  # boolean, float, double, decimal(p,s)) are the same words.
  glue_to_iceberg_type = {
    bigint  = "long"
    integer = "int"
  }
}
