variable "workgroup_name" {
  description = "Athena workgroup the pipeline runs every query in: HEALTH_PIPELINE_ATHENA_WORKGROUP."
  type        = string
}

variable "bucket_name" {
  description = "General-purpose bucket for Athena results, CSV exports and Firehose error output."
  type        = string
}

variable "results_prefix" {
  description = "Key prefix of Athena query results in the bucket (ends with /)."
  type        = string
  default     = "athena-results/"

  validation {
    condition     = endswith(var.results_prefix, "/") && !startswith(var.results_prefix, "/")
    error_message = "results_prefix must be a relative key prefix ending with /, e.g. athena-results/."
  }
}

variable "results_expiration_days" {
  description = "Athena result objects are deleted after this many days."
  type        = number
  default     = 7

  validation {
    condition     = var.results_expiration_days >= 1 && var.results_expiration_days <= 90
    error_message = "results_expiration_days must be between 1 and 90: results are scratch, exports are the kept copy."
  }
}

variable "expiring_prefixes" {
  description = "Other key prefixes (ending with /) whose objects expire, and after how many days, e.g. the Firehose error output."
  type        = map(number)
  default     = {}
}

variable "noncurrent_version_expiration_days" {
  description = "Replaced versions (e.g. a re-materialized export) are deleted after this many days."
  type        = number
  default     = 30
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query that scans more than this many bytes (minimum 10 MB)."
  type        = number
  default     = 10737418240

  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "bytes_scanned_cutoff_per_query must be at least 10485760 (10 MB), Athena's minimum."
  }
}
