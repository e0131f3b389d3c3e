output "workgroup_name" {
  description = "Athena workgroup: HEALTH_PIPELINE_ATHENA_WORKGROUP."
  value       = aws_athena_workgroup.this.name
}

output "workgroup_arn" {
  description = "ARN of the workgroup (the resource of the athena:* grants)."
  value       = aws_athena_workgroup.this.arn
}

output "bucket_name" {
  description = "Name of the general-purpose bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the general-purpose bucket."
  value       = aws_s3_bucket.this.arn
}

output "results_prefix" {
  description = "Key prefix of the Athena results."
  value       = var.results_prefix
}

output "results_uri" {
  description = "Athena result location: HEALTH_PIPELINE_ATHENA_OUTPUT."
  value       = "s3://${aws_s3_bucket.this.bucket}/${var.results_prefix}"
}
