output "function_name" {
  description = "Name of the producer Lambda."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the producer Lambda."
  value       = aws_lambda_function.this.arn
}

output "function_url" {
  description = "The app's entry point: HTTPS, every request signed with SigV4 (AWS_IAM)."
  value       = aws_lambda_function_url.this.function_url
}

output "role_arn" {
  description = "The function's own role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "invoke_policy_json" {
  description = "The identity policy a caller's role needs to call the function URL."
  value       = data.aws_iam_policy_document.invoke.json
}
