# The table bucket, its namespace and the health_records Iceberg table on S3 Tables.
#
# Safety: the table holds every record ever delivered; `prevent_destroy` makes any plan that would
# delete the table, its bucket or its namespace fail.

# The health_records table's columns, in order, with their Glue (Hive DDL) types: the single source
# of truth for the table's schema. The table below is created with them; health_pipeline reads this
# literal (python-hcl2, health_pipeline/schema/terraform.py) to build the Iceberg schema, validate
# records and detect drift. `terraform apply` does NOT change the live table's Iceberg metadata
# (iceberg_metadata is create-only and ignored after creation): after changing a column here, run the
# schema_migration job, whose Athena DDL evolves the table (docs/schema-change-runbook.md). Keep it
# a literal list, one object per column.
locals {
  columns = [
    { name = "user_id", type = "string" },
    { name = "recorded_at", type = "timestamp" },
    { name = "fatigue", type = "int" },
    { name = "mood", type = "int" },
    { name = "motivation", type = "int" },
    { name = "flags", type = "int" },
  ]
}

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

# The table, partitioned and sorted. The AWS provider's aws_s3tables_table declares only a schema
# (hashicorp/terraform-provider-aws issue 46494); CloudFormation's AWS::S3Tables::Table also takes
# IcebergPartitionSpec and IcebergSortOrder, and the awscc provider is generated from it (awscc
# >= 1.72). Its `iceberg_metadata` is create-only: a change to it would REPLACE (drop) the table.
# So:
#   - `iceberg_metadata` is only read at creation and then ignored: later columns are added by the
#     schema_migration job with Athena DDL (local.columns stays the desired schema), and a live
#     table whose layout differs is reported by `health-pipeline schema status` (exit 4) for a
#     person to evolve (docs/schema-change-runbook.md);
#   - `prevent_destroy` makes any plan that would delete the table fail.
# health_pipeline/schema/terraform.py reads the partition spec and sort order below (the desired
# layout) with python-hcl2: keep them literal, one object per field.
resource "awscc_s3tables_table" "health_records" {
  table_bucket_arn  = aws_s3tables_namespace.this.table_bucket_arn
  namespace         = aws_s3tables_namespace.this.namespace
  table_name        = var.table_name
  open_table_format = "ICEBERG"

  iceberg_metadata = {
    # The initial schema, from local.columns (the single source of truth), with field
    # ids 1..n so that the partition and sort fields can name their source column. Iceberg columns
    # are optional (nullable), as the local table declares them, so additive migrations work.
    iceberg_schema = {
      schema_field_list = [
        for index, column in local.columns : {
          id       = index + 1
          name     = column.name
          type     = lookup(local.glue_to_iceberg_type, column.type, column.type)
          required = false
        }
      ]
    }

    # One partition per UTC day of recorded_at (Iceberg hidden partitioning): a day's query with a
    # recorded_at range reads that day's files only, also after compaction has merged Firehose's
    # 5-minute files.
    iceberg_partition_spec = {
      spec_id = 0
      fields = [
        {
          source_id = local.field_id["recorded_at"]
          field_id  = 1000
          transform = "day"
          name      = "recorded_at_day"
        },
      ]
    }

    # Within a day, rows in recorded_at order: S3 Tables compaction (strategy auto) sorts by the
    # table's sort order, so a narrower time range reads fewer row groups.
    iceberg_sort_order = {
      order_id = 1
      fields = [
        {
          source_id  = local.field_id["recorded_at"]
          transform  = "identity"
          direction  = "asc"
          null_order = "nulls-first"
        },
      ]
    }
  }

  # Firehose commits a small file every buffer interval (300 s): compaction merges them into
  # files of this size, and snapshot management expires the per-commit snapshots. The snapshot
  # age bounds time travel and must stay well above the new-data sensor's look-back. The table's
  # encryption is the table bucket's default (AWS::S3Tables::Table has no encryption property).
  compaction = {
    status              = "enabled"
    target_file_size_mb = var.compaction_target_file_size_mb
  }
  snapshot_management = {
    status                 = "enabled"
    max_snapshot_age_hours = var.max_snapshot_age_hours
    min_snapshots_to_keep  = var.min_snapshots_to_keep
  }

  lifecycle {
    prevent_destroy = true
    # Never replace the table because the declared schema or layout moved on: the migration job
    # evolves the columns, a person the layout.
    ignore_changes = [iceberg_metadata]
  }
}

# The table was first declared as aws_s3tables_table (no partition spec). `prevent_destroy` does not
# protect a resource whose block is removed, so this forgets it from the state without deleting
# it. A deployment that had created it keeps that unpartitioned table: import it into the resource
# above (`terraform import` with its ARN) and evolve its layout as docs/schema-change-runbook.md says.
removed {
  from = aws_s3tables_table.health_records

  lifecycle {
    destroy = false
  }
}

locals {
  # Glue spells two types differently from Iceberg; the rest (string, int, timestamp, date,
  # boolean, float, double, decimal(p,s)) are the same words.
  glue_to_iceberg_type = {
    bigint  = "long"
    integer = "int"
  }

  # Iceberg field id of each column in the initial schema (its position, from 1).
  field_id = { for index, column in local.columns : column.name => index + 1 }
}
