# The default catalog's way to the table: a database resource link, named like the S3 Tables
# namespace, that points at the namespace in the table bucket's federated catalog
# (s3tablescatalog/<bucket>). No table is declared in the default catalog: the live table is the S3
# Tables one, and its columns are declared in modules/s3tables (local.columns).
#
# Firehose streams only into tables of databases registered in the default catalog; to stream into
# an S3 Tables table, AWS documents exactly this: "create a resource link in the default catalog that
# points to the namespace in table bucket" (Amazon Data Firehose Developer Guide, "Prerequisites to
# use Apache Iceberg Tables as a destination", section "Prerequisites to deliver to Amazon S3
# Tables"). The stream (modules/firehose) names the default catalog and this link as its database.
#
# The same name makes the pipeline pattern's own Athena commands work unchanged: a query run with
# `--query-execution-context Database=health_logger_prod_health_logs` (catalog AwsDataCatalog)
# reaches health_records through this link. The code itself addresses the sub-catalog directly
# (HEALTH_PIPELINE_CATALOG = s3tablescatalog/<bucket>).

resource "aws_glue_catalog_database" "link" {
  name        = var.database_name
  description = "Resource link to namespace ${var.namespace} of ${var.target_catalog_id} (S3 Tables); the Firehose stream's database."

  target_database {
    catalog_id    = var.target_catalog_id
    database_name = var.namespace
  }
}

# A state that holds this database under its first address (a plain database of the same name) moves
# here: target_database forces a replacement, which Terraform orders destroy-then-create, so the
# name is free when the link is created (two unrelated resources could be created first).
moved {
  from = aws_glue_catalog_database.this
  to   = aws_glue_catalog_database.link
}
