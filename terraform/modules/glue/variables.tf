variable "database_name" {
  description = "Glue database (Athena database) that holds the health_records table."
  type        = string
}

variable "table_name" {
  description = "Name of the Iceberg table."
  type        = string
  default     = "health_records"
}

variable "table_bucket_arn" {
  description = "ARN of the S3 Tables table bucket that stores the Iceberg table."
  type        = string
}
