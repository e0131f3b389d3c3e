# Production: the whole pipeline with the production names of the pipeline pattern.
#   producer (Lambda) -> Firehose (5 MB / 300 s) -> S3 Tables (Iceberg) -> Glue -> Athena -> CSV exports
#
# Before the first apply, once per account and region: integrate table buckets with AWS analytics
# services in the access mode var.s3tables_access_mode names (iam, AWS's default, or lake_formation;
# docs/operations/deploying.md). Every permission each principal needs in that mode is declared
# here: IAM policies on the S3 Tables and Glue resources (iam), or Lake Formation grants on the
# s3tablescatalog sub-catalog's namespace and table (lake_formation).

locals {
  database = "health_logger_prod_health_logs"
  bucket   = "health-logger-prod"

  results_prefix      = "athena-results/"
  exports_prefix      = "exports/"
  error_output_prefix = "firehose-errors/"

  # The Dagster UI's base URL, for the links in alerts: the ALB's hostname (standard), or the local
  # end of the operator's Session Manager port forward (small: docs/operations/deploying.md).
  ui_url = var.dagster_profile == "small" ? "http://127.0.0.1:3000" : "https://${var.dagster_ui_hostname}"

  # Firehose delivers at 5 MB or 300 s, whichever comes first; the freshness alarm derives from it.
  buffering = {
    size_mb          = 5
    interval_seconds = 300
  }
}

module "s3tables" {
  source = "../../modules/s3tables"

  table_bucket_name = var.table_bucket_name
  namespace         = local.database
}

# The resource link in the default catalog, named like the namespace: Firehose's route to the table,
# and the database of the pattern's Athena commands (modules/glue).
module "glue" {
  source = "../../modules/glue"

  database_name     = local.database
  target_catalog_id = module.s3tables.glue_catalog_id
  namespace         = module.s3tables.namespace
}

module "athena" {
  source = "../../modules/athena"

  workgroup_name                 = var.athena_workgroup
  bucket_name                    = local.bucket
  results_prefix                 = local.results_prefix
  results_expiration_days        = 7
  bytes_scanned_cutoff_per_query = var.bytes_scanned_cutoff_per_query

  # Rejected records are kept long enough to investigate and replay, and no longer: an erasure
  # removes a person's rejected records at once, and this expiry bounds what it cannot recognise
  # (a line too broken to name its user) to 30 days (docs/operations/erasure.md).
  expiring_prefixes = {
    (local.error_output_prefix) = 30
  }
}

module "firehose" {
  source = "../../modules/firehose"

  stream_name                = var.stream_name
  access_mode                = var.s3tables_access_mode
  table_bucket_name          = module.s3tables.table_bucket_name
  table_bucket_arn           = module.s3tables.table_bucket_arn
  glue_catalog_id            = module.s3tables.glue_catalog_id
  namespace                  = module.s3tables.namespace
  resource_link_name         = module.glue.database_name
  table_name                 = module.s3tables.table_name
  table_arn                  = module.s3tables.table_arn
  error_bucket_arn           = module.athena.bucket_arn
  error_output_prefix        = local.error_output_prefix
  buffering_size_mb          = local.buffering.size_mb
  buffering_interval_seconds = local.buffering.interval_seconds
}

# The producer: the app's records through a Lambda (function URL, AWS_IAM) into the stream. Its
# package is `make lambda`'s dist/health_pipeline_lambda.zip; its checksum is a variable.
module "lambda" {
  source = "../../modules/lambda"

  function_name        = var.producer_function_name
  package_path         = var.producer_package_path
  package_base64sha256 = var.producer_package_base64sha256
  reserved_concurrency = var.producer_reserved_concurrency
  stream_name          = module.firehose.stream_name
  stream_arn           = module.firehose.stream_arn
  access_mode          = var.s3tables_access_mode
  catalog              = module.s3tables.athena_catalog
  glue_catalog_id      = module.s3tables.glue_catalog_id
  database_name        = module.s3tables.namespace
  table_name           = module.s3tables.table_name
  table_bucket_arn     = module.s3tables.table_bucket_arn
  table_arn            = module.s3tables.table_arn
  invoker_role_names   = var.producer_invoker_role_names
}

# Operators are told: the alerts sensor's messages and the delivery alarms' state changes go to one
# encrypted SNS topic, with e-mail subscriptions from var.alert_email_addresses.
module "alerts" {
  source = "../../modules/alerts"

  topic_name      = "health-logger-prod-alerts"
  email_addresses = var.alert_email_addresses
}

module "alarms" {
  source = "../../modules/alarms"

  stream_name                = module.firehose.stream_name
  buffering_interval_seconds = local.buffering.interval_seconds
  alarm_actions              = [module.alerts.topic_arn]

  # What watches the operators' Dagster: its heartbeat and the daily export (docs/operations/alerts.md).
  name_prefix      = "health-logger-prod"
  ui_url           = local.ui_url
  daemon_log_group = var.dagster_profile == "small" ? "/ecs/health-pipeline/dagster" : "/ecs/health-pipeline/daemon"
  run_log_group    = var.dagster_profile == "small" ? "/ecs/health-pipeline/dagster" : "/ecs/health-pipeline/run"
}

module "iam" {
  source = "../../modules/iam"

  role_name                  = "health-logger-prod-dagster"
  trusted_service_principals = var.dagster_trusted_service_principals
  trusted_role_arns          = var.dagster_trusted_role_arns

  workgroup_name      = module.athena.workgroup_name
  workgroup_arn       = module.athena.workgroup_arn
  bucket_arn          = module.athena.bucket_arn
  results_prefix      = local.results_prefix
  exports_prefix      = local.exports_prefix
  error_output_prefix = local.error_output_prefix
  stream_arn          = module.firehose.stream_arn
  access_mode         = var.s3tables_access_mode
  glue_catalog_id     = module.s3tables.glue_catalog_id
  table_bucket_name   = module.s3tables.table_bucket_name
  namespace           = module.s3tables.namespace
  table_name          = module.s3tables.table_name
  table_arn           = module.s3tables.table_arn
  alert_topic_arn     = module.alerts.topic_arn
  alert_key_arn       = module.alerts.key_arn
  metric_namespace    = module.alarms.metric_namespace
}

# The operators' Dagster (webserver, daemon, code server, runs) on ECS Fargate, its instance in RDS
# PostgreSQL; standard: behind an ALB that signs operators in at the identity provider first; small:
# one task, reached through Session Manager.
module "dagster" {
  source = "../../modules/dagster"

  profile            = var.dagster_profile
  vpc_id             = var.dagster_vpc_id
  private_subnet_ids = var.dagster_private_subnet_ids
  public_subnet_ids  = var.dagster_public_subnet_ids
  certificate_arn    = var.dagster_certificate_arn
  ui_hostname        = var.dagster_ui_hostname
  oidc               = var.dagster_oidc
  oidc_client_secret = var.dagster_oidc_client_secret
  image_tag          = var.dagster_image_tag
  pipeline_role_arn  = module.iam.role_arn

  # The aws mode's settings, the same values as this root's outputs of the same names.
  environment = {
    HEALTH_PIPELINE_MODE             = "aws"
    HEALTH_PIPELINE_FIREHOSE_STREAM  = module.firehose.stream_name
    HEALTH_PIPELINE_CATALOG          = module.s3tables.athena_catalog
    HEALTH_PIPELINE_DATABASE         = module.s3tables.namespace
    HEALTH_PIPELINE_TABLE            = module.s3tables.table_name
    HEALTH_PIPELINE_ATHENA_WORKGROUP = module.athena.workgroup_name
    HEALTH_PIPELINE_ATHENA_OUTPUT    = module.athena.results_uri
    HEALTH_PIPELINE_EXPORT_URI       = "s3://${module.athena.bucket_name}/${local.exports_prefix}"
    HEALTH_PIPELINE_ALERT_TOPIC_ARN  = module.alerts.topic_arn
    HEALTH_PIPELINE_UI_URL           = local.ui_url
    AWS_REGION                       = var.region
  }
}
