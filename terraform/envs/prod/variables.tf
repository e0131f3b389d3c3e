variable "region" {
  description = "AWS region of the pipeline: AWS_REGION."
  type        = string
  default     = "ap-northeast-1"
}

variable "s3tables_access_mode" {
  description = "How the table bucket's integration with AWS analytics services controls access, as chosen for the account and region: iam (AWS's default: IAM policies on the S3 Tables and Glue resources decide) or lake_formation (Lake Formation vends credentials; its grants decide). Terraform declares each principal's permissions for the mode given: docs/operations/deploying.md."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "lake_formation"], var.s3tables_access_mode)
    error_message = "s3tables_access_mode is \"iam\" or \"lake_formation\"."
  }
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

variable "alert_email_addresses" {
  description = "Operators' e-mail addresses subscribed to the alerts topic (each confirms the subscription from AWS's e-mail); remove one to unsubscribe it."
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

# -- the producer Lambda (modules/lambda) --------------------------------------------------------------
variable "producer_function_name" {
  description = "Name of the producer Lambda."
  type        = string
  default     = "health-logger-prod-producer"
}

variable "producer_package_path" {
  description = "The package `make lambda` builds, relative to terraform/envs/prod (terraform -chdir)."
  type        = string
  default     = "../../../dist/health_pipeline_lambda.zip"
}

variable "producer_package_base64sha256" {
  description = "Base64 SHA-256 of that package, as `make lambda` prints it (TF_VAR_producer_package_base64sha256)."
  type        = string
}

variable "producer_reserved_concurrency" {
  description = "Executions reserved for (and capping) the producer Lambda; null (the default): none. A reservation must leave at least 100 executions unreserved in the account, so it fails on a new account's low concurrency quota: docs/operations/deploying.md."
  type        = number
  default     = null
}

variable "producer_invoker_role_names" {
  description = "Roles of this account that may call the producer's function URL (SigV4-signed), e.g. the app's Cognito identity pool authenticated role."
  type        = list(string)
  default     = []
}

# -- the operators' Dagster (modules/dagster) -------------------------------------------------------
variable "dagster_profile" {
  description = "standard (three services, ECS run tasks, the UI behind an OIDC-authenticating ALB) or small (one ARM64 task, no load balancer, the UI through a Session Manager port forward): docs/operations/deploying.md."
  type        = string
  default     = "standard"

  validation {
    condition     = contains(["standard", "small"], var.dagster_profile)
    error_message = "dagster_profile is \"standard\" or \"small\"."
  }
}

variable "dagster_vpc_id" {
  description = "VPC of the Dagster deployment; standard: its private subnets need a NAT gateway or VPC endpoints to the AWS APIs; small: none (the task has a public address)."
  type        = string
}

variable "dagster_private_subnet_ids" {
  description = "Private subnets (two or more AZs): the database, and the ECS tasks in the standard profile."
  type        = list(string)
}

variable "dagster_public_subnet_ids" {
  description = "Public subnets (two or more AZs): the UI's load balancer (standard) or the one task (small)."
  type        = list(string)
}

variable "dagster_certificate_arn" {
  description = "ACM certificate in var.region for dagster_ui_hostname (standard profile only)."
  type        = string
  default     = null
}

variable "dagster_ui_hostname" {
  description = "DNS name of the Dagster UI, e.g. dagster.example.com (standard profile only)."
  type        = string
  default     = null
}

variable "dagster_oidc" {
  description = "The operators' OIDC identity provider (issuer and endpoints) and the UI's client id (standard profile only)."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
  })
  default = null
}

variable "dagster_oidc_client_secret" {
  description = "The UI's OIDC client secret: set TF_VAR_dagster_oidc_client_secret, never a file (standard profile only)."
  type        = string
  sensitive   = true
  default     = null
}

variable "dagster_image_tag" {
  description = "Tag of the health-pipeline image pushed to the module's ECR repository (the commit)."
  type        = string
}
