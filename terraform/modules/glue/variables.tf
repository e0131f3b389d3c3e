variable "database_name" {
  description = "Name of the resource link in the default catalog (the Firehose stream's database, and the pattern's Athena database)."
  type        = string
}

variable "target_catalog_id" {
  description = "Glue catalog id of the table bucket, <account>:s3tablescatalog/<bucket> (modules/s3tables' glue_catalog_id)."
  type        = string
}

variable "namespace" {
  description = "The S3 Tables namespace the link points at (a database of that catalog)."
  type        = string
}
