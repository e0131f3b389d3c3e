output "stream_name" {
  description = "Delivery stream name: HEALTH_PIPELINE_FIREHOSE_STREAM."
  value       = aws_kinesis_firehose_delivery_stream.this.name
}

output "stream_arn" {
  description = "ARN of the delivery stream."
  value       = aws_kinesis_firehose_delivery_stream.this.arn
}

output "role_arn" {
  description = "Role Firehose assumes (its S3 Tables permissions, or its Lake Formation grants, are this module's)."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of delivery errors."
  value       = aws_cloudwatch_log_group.this.name
}

output "error_output_prefix" {
  description = "Key prefix of the error output in the error bucket."
  value       = var.error_output_prefix
}

output "buffering_interval_seconds" {
  description = "Buffer interval in seconds (the freshness alarm's threshold is twice this)."
  value       = var.buffering_interval_seconds
}
