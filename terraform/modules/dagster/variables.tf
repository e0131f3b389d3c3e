variable "vpc_id" {
  description = "VPC of the deployment. Its private subnets need a route to the AWS APIs (a NAT gateway, or VPC endpoints for ECR, CloudWatch Logs, Secrets Manager, ECS, S3, Athena, Glue, Firehose, CloudWatch and STS)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (two or more AZs) for the ECS tasks and the database."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "RDS needs a subnet group in at least two availability zones."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets (two or more AZs) for the load balancer only."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (same region) for ui_hostname, served by the HTTPS listener."
  type        = string
}

variable "ui_hostname" {
  description = "The UI's DNS name (e.g. dagster.example.com), covered by the certificate; point it at the load balancer."
  type        = string
}

variable "oidc" {
  description = "The operators' OpenID Connect identity provider (endpoints from its /.well-known/openid-configuration) and this client's id. Register https://<ui_hostname>/oauth2/idpresponse as the client's redirect URI, and let only the operators' group use the client."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
  })
}

variable "oidc_client_secret" {
  description = "The OIDC client's secret (TF_VAR_..., never in a file). The listener needs it: it is kept in the (encrypted) Terraform state, never output."
  type        = string
  sensitive   = true
}

variable "session_timeout_seconds" {
  description = "How long a UI login lasts before the load balancer asks the identity provider again."
  type        = number
  default     = 28800
}

variable "image_tag" {
  description = "Tag of the health-pipeline image in this module's ECR repository (tags are immutable: use the commit)."
  type        = string
}

variable "pipeline_role_arn" {
  description = "ARN of the pipeline's role (modules/iam): the task role of the code server and of every run."
  type        = string
}

variable "environment" {
  description = "The code location's settings (HEALTH_PIPELINE_MODE=aws, HEALTH_PIPELINE_*, AWS_REGION), the same in every task."
  type        = map(string)
}

variable "task_sizes" {
  description = "Fargate CPU units and memory (MiB) of the long-running services and of the run tasks (dagster.yaml's run_resources override the latter per run)."
  type = map(object({
    cpu    = number
    memory = number
  }))
  default = {
    webserver = { cpu = 512, memory = 1024 }
    daemon    = { cpu = 512, memory = 1024 }
    code      = { cpu = 512, memory = 2048 }
    run       = { cpu = 1024, memory = 4096 }
  }
}

variable "db_instance_class" {
  description = "RDS instance class of the Dagster instance's PostgreSQL."
  type        = string
  default     = "db.t4g.small"
}

variable "db_allocated_storage_gb" {
  description = "Initial gp3 storage; autoscaling may grow it to four times this."
  type        = number
  default     = 20
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1
    error_message = "Backups must be on."
  }
}

variable "log_retention_days" {
  description = "Retention of the services' and the runs' CloudWatch log groups."
  type        = number
  default     = 365
}
