variable "region" {
  description = "AWS region of the pipeline: AWS_REGION."
  type        = string
  default     = "ap-northeast-1"
}

variable "table_bucket_name" {
  description = "S3 Tables table bucket holding health_records."
  type        = string
  default     = "health-logger-prod-tables"
}

variable "stream_name" {
  description = "Firehose delivery stream name."
  type        = string
  default     = "health-logger-prod-records"
}

variable "athena_workgroup" {
  description = "Athena workgroup the pipeline's queries run in."
  type        = string
  default     = "health-logger-prod"
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query scanning more than this (10 GiB is about USD 0.05)."
  type        = number
  default     = 10737418240
}

variable "alarm_actions" {
  description = "SNS topic ARNs (or other alarm actions) notified by the delivery alarms."
  type        = list(string)
  default     = []
}

variable "dagster_trusted_service_principals" {
  description = "Services that may assume the Dagster role, e.g. [\"ecs-tasks.amazonaws.com\"]."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com"]
}

variable "dagster_trusted_role_arns" {
  description = "Roles that may assume the Dagster role (EKS pod role, EC2 instance role, an operator's role)."
  type        = list(string)
  default     = []
}
