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
  description = "Instances at most at once: caps the Firehose put rate and the cost of a flood of requests."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be at least 1 (0 would stop the function)."
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

variable "glue_database_name" {
  description = "Glue database of the table whose columns the records are validated against."
  type        = string
}

variable "glue_table_name" {
  description = "Glue table whose columns the records are validated against."
  type        = string
}

variable "invoker_role_names" {
  description = "Roles of this account allowed to call the function URL (signed with SigV4), e.g. the app backend's or a Cognito identity pool's authenticated role."
  type        = list(string)
  default     = []
}
