# Exactly what HEALTH_PIPELINE_MODE=aws needs: each output is named after its environment variable
# in snake case (health_pipeline_catalog -> HEALTH_PIPELINE_CATALOG); scripts/terraform_outputs_env.py
# turns `terraform output -json` into the export lines. dagster_role_arn is the role to run as.

output "health_pipeline_firehose_stream" {
  description = "HEALTH_PIPELINE_FIREHOSE_STREAM"
  value       = module.firehose.stream_name
}

output "health_pipeline_catalog" {
  description = "HEALTH_PIPELINE_CATALOG"
  value       = module.s3tables.athena_catalog
}

output "health_pipeline_database" {
  description = "HEALTH_PIPELINE_DATABASE"
  value       = module.s3tables.namespace
}

output "health_pipeline_table" {
  description = "HEALTH_PIPELINE_TABLE"
  value       = module.s3tables.table_name
}

output "health_pipeline_athena_workgroup" {
  description = "HEALTH_PIPELINE_ATHENA_WORKGROUP"
  value       = module.athena.workgroup_name
}

output "health_pipeline_athena_output" {
  description = "HEALTH_PIPELINE_ATHENA_OUTPUT"
  value       = module.athena.results_uri
}

output "health_pipeline_export_uri" {
  description = "HEALTH_PIPELINE_EXPORT_URI"
  value       = "s3://${module.athena.bucket_name}/${local.exports_prefix}"
}

output "health_pipeline_alert_topic_arn" {
  description = "HEALTH_PIPELINE_ALERT_TOPIC_ARN"
  value       = module.alerts.topic_arn
}

output "health_pipeline_ui_url" {
  description = "HEALTH_PIPELINE_UI_URL"
  value       = local.ui_url
}

output "aws_region" {
  description = "AWS_REGION"
  value       = var.region
}

output "dagster_role_arn" {
  description = "The role the Dagster deployment assumes (not an environment variable of the code)."
  value       = module.iam.role_arn
}

# The operators' Dagster (not settings of the code; dagster_* like dagster_role_arn).
output "dagster_ui_url" {
  description = "The Dagster UI (small: on this machine, while a Session Manager port forward runs)."
  value       = module.dagster.ui_url
}

output "dagster_oidc_redirect_uri" {
  description = "The OIDC client's redirect URI to register at the identity provider (standard)."
  value       = module.dagster.oidc_redirect_uri
}

output "dagster_alb_dns_name" {
  description = "Point dagster_ui_hostname at this load balancer name (standard)."
  value       = module.dagster.alb_dns_name
}

output "dagster_ecr_repository_url" {
  description = "Where to push the image."
  value       = module.dagster.ecr_repository_url
}

output "dagster_cluster_name" {
  description = "ECS cluster of the Dagster services and runs."
  value       = module.dagster.cluster_name
}

output "dagster_service_names" {
  description = "ECS services: webserver, daemon, code server (standard) or the one task (small)."
  value       = module.dagster.service_names
}

output "dagster_run_task_network" {
  description = "Task definition, subnets, security group and public address for a one-off task (setting the pools)."
  value       = module.dagster.run_task_network
}

output "dagster_log_groups" {
  description = "CloudWatch log groups of the Dagster tasks."
  value       = module.dagster.log_groups
}

output "dagster_database_endpoint" {
  description = "host:port of the Dagster instance's PostgreSQL."
  value       = module.dagster.database_endpoint
}

output "dagster_database_secret_arn" {
  description = "ARN of the RDS-managed secret with the database password (not the password)."
  value       = module.dagster.database_secret_arn
}

# The producer Lambda (not settings of the code: producer_*, printed as comments like dagster_*).
output "producer_function_url" {
  description = "The app's entry point: HTTPS, requests signed with SigV4 (AWS_IAM)."
  value       = module.lambda.function_url
}

output "producer_function_name" {
  description = "The producer Lambda."
  value       = module.lambda.function_name
}

output "producer_log_group" {
  description = "The producer Lambda's log group."
  value       = module.lambda.log_group_name
}

output "producer_invoke_policy_json" {
  description = "The identity policy a caller's role needs (attached already to producer_invoker_role_names)."
  value       = module.lambda.invoke_policy_json
}
