output "role_arn" {
  description = "ARN of the role the Dagster deployment assumes."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the role the Dagster deployment assumes."
  value       = aws_iam_role.this.name
}
