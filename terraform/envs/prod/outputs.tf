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

output "aws_region" {
  description = "AWS_REGION"
  value       = var.region
}

output "dagster_role_arn" {
  description = "The role the Dagster deployment assumes (not an environment variable of the code)."
  value       = module.iam.role_arn
}
