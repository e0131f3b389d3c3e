variable "stream_name" {
  description = "Delivery stream name: HEALTH_PIPELINE_FIREHOSE_STREAM."
  type        = string
}

variable "table_bucket_name" {
  description = "S3 Tables table bucket that holds the destination table."
  type        = string
}

variable "table_bucket_arn" {
  description = "ARN of that table bucket (the resource of s3tables:GetTableBucket and GetNamespace in iam mode)."
  type        = string
}

variable "glue_catalog_id" {
  description = "Glue catalog id of the table bucket, <account>:s3tablescatalog/<bucket> (the Lake Formation grants' catalog)."
  type        = string
}

variable "namespace" {
  description = "Namespace (database of the s3tablescatalog catalog) of the destination table."
  type        = string
}

variable "resource_link_name" {
  description = "The resource link in the default catalog to that namespace (modules/glue): the stream's database."
  type        = string
}

variable "table_arn" {
  description = "ARN of the destination table (the resource of the S3 Tables write actions in iam mode)."
  type        = string
}

variable "access_mode" {
  description = "The table bucket's access mode for AWS analytics services: iam (IAM policies decide) or lake_formation (Lake Formation grants decide)."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "lake_formation"], var.access_mode)
    error_message = "access_mode is \"iam\" or \"lake_formation\"."
  }
}

variable "table_name" {
  description = "Destination Iceberg table."
  type        = string
}

variable "error_bucket_arn" {
  description = "ARN of the general-purpose bucket that receives the error output."
  type        = string
}

variable "error_output_prefix" {
  description = "Key prefix of the error output (ends with /); Firehose appends YYYY/MM/DD/HH/."
  type        = string
  default     = "firehose-errors/"

  validation {
    condition     = endswith(var.error_output_prefix, "/") && !startswith(var.error_output_prefix, "/")
    error_message = "error_output_prefix must be a relative key prefix ending with /, e.g. firehose-errors/."
  }
}

variable "buffering_size_mb" {
  description = "Firehose delivers when this many MB are buffered (or the interval passes)."
  type        = number
  default     = 5

  validation {
    condition     = var.buffering_size_mb >= 1 && var.buffering_size_mb <= 128
    error_message = "buffering_size_mb must be between 1 and 128."
  }
}

variable "buffering_interval_seconds" {
  description = "Firehose delivers at least this often (seconds); the freshness alarm is twice this."
  type        = number
  default     = 300

  validation {
    condition     = var.buffering_interval_seconds >= 0 && var.buffering_interval_seconds <= 900
    error_message = "buffering_interval_seconds must be between 0 and 900."
  }
}

variable "retry_duration_seconds" {
  description = "How long Firehose retries a failed Iceberg commit before writing the records to the error output."
  type        = number
  default     = 300
}

variable "log_retention_days" {
  description = "Retention of the delivery error log group."
  type        = number
  default     = 365
}
