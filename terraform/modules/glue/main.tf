# The health_records table as the Glue Data Catalog declares it. These columns are the single source
# of truth for the table's schema: health_pipeline reads them (python-hcl2) to build the Iceberg
# schema, validate records and detect drift. `terraform apply` does NOT update the Iceberg metadata;
# after changing a column here, run the schema_migration job (docs/schema-change-runbook.md).

resource "aws_glue_catalog_database" "this" {
  name = var.database_name
}

resource "aws_glue_catalog_table" "health_records" {
  name          = var.table_name
  database_name = aws_glue_catalog_database.this.name
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "table_type"        = "ICEBERG"
    "metadata_location" = "s3tables://${var.table_bucket_arn}/..."
  }

  storage_descriptor {
    columns {
      name = "user_id"
      type = "string"
    }
    columns {
      name = "recorded_at"
      type = "timestamp"
    }
    columns {
      name = "fatigue"
      type = "int"
    }
    columns {
      name = "mood"
      type = "int"
    }
    columns {
      name = "motivation"
      type = "int"
    }
    columns {
      name = "flags"
      type = "int"
    }
  }

  lifecycle {
    # Glue rewrites metadata_location on every Iceberg commit; without this every plan would revert it.
    ignore_changes = [parameters]
  }
}
