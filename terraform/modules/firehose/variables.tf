variable "stream_name" {
  description = "Delivery stream name: HEALTH_PIPELINE_FIREHOSE_STREAM."
  type        = string
}

variable "table_bucket_name" {
  description = "S3 Tables table bucket that holds the destination table."
  type        = string
}

variable "namespace" {
  description = "Namespace (database) of the destination table."
  type        = string
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
