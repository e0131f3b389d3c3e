variable "profile" {
  description = "standard: the webserver, the daemon and the code server as three services in private subnets, one ECS task per run, the UI behind an ALB that signs operators in at the OIDC identity provider. small: one ARM64 task running all three (runs as its subprocesses) in a public subnet with no inbound rule, the UI through a Session Manager port forward (IAM), db.t4g.micro. docs/operations/deploying.md compares them."
  type        = string
  default     = "standard"

  validation {
    condition     = contains(["standard", "small"], var.profile)
    error_message = "profile is \"standard\" or \"small\"."
  }
}

variable "vpc_id" {
  description = "VPC of the deployment. standard: its private subnets need a route to the AWS APIs (a NAT gateway, or VPC endpoints for ECR, CloudWatch Logs, Secrets Manager, ECS, S3, Athena, Glue, Firehose, CloudWatch and STS). small: the public subnets' internet gateway serves the one task; the private subnets hold only the database and need no route out."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (two or more AZs): the database, and in the standard profile the ECS tasks."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "RDS needs a subnet group in at least two availability zones."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets (two or more AZs): the load balancer (standard) or the one task, with a public address and no inbound rule (small)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (same region) for ui_hostname, served by the HTTPS listener (standard profile; unused in small)."
  type        = string
  default     = null
}

variable "ui_hostname" {
  description = "The UI's DNS name (e.g. dagster.example.com), covered by the certificate; point it at the load balancer (standard profile; unused in small)."
  type        = string
  default     = null
}

variable "oidc" {
  description = "The operators' OpenID Connect identity provider (endpoints from its /.well-known/openid-configuration) and this client's id. Register https://<ui_hostname>/oauth2/idpresponse as the client's redirect URI, and let only the operators' group use the client (standard profile; unused in small)."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
  })
  default = null
}

variable "oidc_client_secret" {
  description = "The OIDC client's secret (TF_VAR_..., never in a file). The listener needs it: it is kept in the (encrypted) Terraform state, never output (standard profile; unused in small)."
  type        = string
  sensitive   = true
  default     = null
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
  description = "Fargate CPU units and memory (MiB) of each task definition: standard's webserver, daemon, code and run (dagster.yaml's run_resources override the latter per run), small's one task `dagster` (ARM64; its runs share it)."
  type = map(object({
    cpu    = number
    memory = number
  }))
  default = {
    webserver = { cpu = 512, memory = 1024 }
    daemon    = { cpu = 512, memory = 1024 }
    code      = { cpu = 512, memory = 2048 }
    run       = { cpu = 1024, memory = 4096 }
    dagster   = { cpu = 256, memory = 2048 }
  }
}

variable "db_instance_class" {
  description = "RDS instance class of the Dagster instance's PostgreSQL; null: db.t4g.small (standard) or db.t4g.micro (small)."
  type        = string
  default     = null
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
