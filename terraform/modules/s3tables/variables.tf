variable "table_bucket_name" {
  description = "Name of the S3 Tables table bucket (the Athena catalog is s3tablescatalog/<this>)."
  type        = string
}

variable "namespace" {
  description = "Namespace in the table bucket: the Glue/Athena database of the S3 Tables catalog."
  type        = string
}

variable "table_name" {
  description = "Name of the Iceberg table."
  type        = string
  default     = "health_records"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the table bucket and table; null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "compaction_target_file_size_mb" {
  description = "Compaction merges Firehose's small commits into files of about this size (64-512)."
  type        = number
  default     = 128

  validation {
    condition     = var.compaction_target_file_size_mb >= 64 && var.compaction_target_file_size_mb <= 512
    error_message = "compaction_target_file_size_mb must be between 64 and 512 (the S3 Tables limits)."
  }
}

# An erased person's rows stay readable through older snapshots until snapshot expiry drops them,
# then on disk until unreferenced-file removal deletes the files: the three values below add up to
# the date an erasure's receipt gives (3 days + 1 + 3 = 7 days; docs/operations/erasure.md).
variable "max_snapshot_age_hours" {
  description = "Snapshots older than this are expired (time travel window, and the first part of an erasure's delay); keep it above the new-data sensor's look-back."
  type        = number
  default     = 72

  validation {
    condition     = var.max_snapshot_age_hours >= 24
    error_message = "max_snapshot_age_hours below 24 would expire snapshots the new-data sensor may still need."
  }
}

variable "min_snapshots_to_keep" {
  description = "Snapshots kept whatever their age."
  type        = number
  default     = 1
}

variable "unreferenced_days" {
  description = "Days after which files no snapshot references are marked for deletion (a write in flight commits within minutes)."
  type        = number
  default     = 1

  validation {
    condition     = var.unreferenced_days >= 1
    error_message = "S3 Tables takes at least 1 day."
  }
}

variable "non_current_days" {
  description = "Days after which files marked for deletion are deleted (AWS Support can restore them until then)."
  type        = number
  default     = 3

  validation {
    condition     = var.non_current_days >= 1
    error_message = "S3 Tables takes at least 1 day."
  }
}
