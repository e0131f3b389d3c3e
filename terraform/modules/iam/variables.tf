variable "role_name" {
  description = "Name of the role the Dagster deployment assumes."
  type        = string
}

variable "trusted_service_principals" {
  description = "AWS services that may assume the role for this account (e.g. ecs-tasks.amazonaws.com where Dagster runs on ECS)."
  type        = list(string)
  default     = []
}

variable "trusted_role_arns" {
  description = "IAM roles that may assume the role (e.g. the EKS pod role or the EC2 instance role running Dagster)."
  type        = list(string)
  default     = []
}

variable "workgroup_name" {
  description = "Athena workgroup name (for the role's description)."
  type        = string
}

variable "workgroup_arn" {
  description = "ARN of the Athena workgroup the code runs queries in."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the general-purpose bucket (Athena results, exports, Firehose error output)."
  type        = string
}

variable "results_prefix" {
  description = "Key prefix of the Athena results (ends with /)."
  type        = string
}

variable "exports_prefix" {
  description = "Key prefix of the CSV exports (ends with /)."
  type        = string
}

variable "error_output_prefix" {
  description = "Key prefix of Firehose's error output (ends with /)."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the Firehose delivery stream."
  type        = string
}

variable "table_bucket_name" {
  description = "S3 Tables table bucket holding the live table."
  type        = string
}

variable "namespace" {
  description = "Namespace of the live table."
  type        = string
}

variable "table_name" {
  description = "Name of the live table."
  type        = string
}

variable "table_arn" {
  description = "ARN of the live S3 Tables table."
  type        = string
}

variable "alert_topic_arn" {
  description = "ARN of the alerts SNS topic (modules/alerts) the alerts sensor publishes to."
  type        = string
}

variable "alert_key_arn" {
  description = "ARN of the KMS key encrypting the alerts topic."
  type        = string
}

variable "glue_catalog_id" {
  description = "Glue catalog id of the table bucket, <account>:s3tablescatalog/<bucket> (the Lake Formation grants' catalog)."
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

variable "metric_namespace" {
  description = "The CloudWatch namespace the Dagster role may publish metrics in (modules/alarms: the heartbeat and the export metric)."
  type        = string
}
