variable "function_name" {
  description = "Name of the producer Lambda (also its role's and log group's)."
  type        = string
}

variable "package_path" {
  description = "Path of dist/health_pipeline_lambda.zip, built by `make lambda` (relative to where terraform runs)."
  type        = string
}

variable "package_base64sha256" {
  description = "Base64 SHA-256 of the package, as `make lambda` prints it: a new value deploys new code."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.package_base64sha256))
    error_message = "package_base64sha256 must be the base64 SHA-256 `make lambda` prints (44 characters ending in =)."
  }
}

variable "runtime" {
  description = "Lambda Python runtime; the handler needs the standard library and the runtime's boto3 only."
  type        = string
  default     = "python3.14"

  validation {
    condition     = can(regex("^python3\\.(1[2-9])$", var.runtime))
    error_message = "runtime must be python3.12 or later (the code uses the standard library of 3.11+ only)."
  }
}

variable "memory_mb" {
  description = "Memory (and so CPU share) of the function."
  type        = number
  default     = 256
}

variable "timeout_seconds" {
  description = "Per invocation; PutRecordBatch retries back off for at most ~23 s in all before dead-lettering."
  type        = number
  default     = 60
}

variable "reserved_concurrency" {
  description = "Executions reserved for (and capping) the function; null: none, it shares the account's unreserved pool. A reservation must leave at least 100 executions unreserved in the account (PutFunctionConcurrency), so a new account with a low concurrency quota fails the apply: ask for a higher quota first."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null ? true : var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be null (no reservation) or at least 1 (0 would stop the function)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365
}

variable "stream_name" {
  description = "Firehose delivery stream the records are put to: HEALTH_PIPELINE_FIREHOSE_STREAM."
  type        = string
}

variable "stream_arn" {
  description = "ARN of that stream (the only resource of firehose:PutRecordBatch)."
  type        = string
}

variable "catalog" {
  description = "The table bucket's catalog, s3tablescatalog/<bucket>: HEALTH_PIPELINE_CATALOG (the handler reads the columns from it)."
  type        = string
}

variable "glue_catalog_id" {
  description = "Glue catalog id of the table bucket, <account>:s3tablescatalog/<bucket> (the Lake Formation grants' catalog)."
  type        = string
}

variable "database_name" {
  description = "Namespace of the table whose columns the records are validated against: HEALTH_PIPELINE_DATABASE."
  type        = string
}

variable "table_name" {
  description = "Table whose columns the records are validated against: HEALTH_PIPELINE_TABLE."
  type        = string
}

variable "table_bucket_arn" {
  description = "ARN of the table bucket (iam mode: s3tables:GetTableBucket and GetNamespace)."
  type        = string
}

variable "table_arn" {
  description = "ARN of the table (iam mode: the S3 Tables reads behind Glue's GetTable)."
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

variable "invoker_role_names" {
  description = "Roles of this account allowed to call the function URL (signed with SigV4), e.g. the app backend's or a Cognito identity pool's authenticated role."
  type        = list(string)
  default     = []
}
