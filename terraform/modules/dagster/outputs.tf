# What an operator needs after apply. The database password is in none of them: only the ARN of
# the secret RDS keeps it in.

output "ui_url" {
  description = "The Dagster UI (sign-in at the identity provider first)."
  value       = "https://${var.ui_hostname}/"
}

output "oidc_redirect_uri" {
  description = "Register this as the OIDC client's redirect (callback) URI."
  value       = "https://${var.ui_hostname}/oauth2/idpresponse"
}

output "alb_dns_name" {
  description = "Point ui_hostname at this name (CNAME, or a Route 53 alias)."
  value       = aws_lb.this.dns_name
}

output "ecr_repository_url" {
  description = "Push the image here, tagged with image_tag."
  value       = aws_ecr_repository.this.repository_url
}

output "cluster_name" {
  description = "ECS cluster of the services and the run tasks."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS services (aws ecs update-service --force-new-deployment ...)."
  value = {
    webserver = aws_ecs_service.webserver.name
    daemon    = aws_ecs_service.daemon.name
    code      = aws_ecs_service.code.name
  }
}

output "run_task_definition_family" {
  description = "The task definition each run starts from (DAGSTER_RUN_TASK_DEFINITION)."
  value       = local.run_family
}

output "log_groups" {
  description = "CloudWatch log groups of the webserver, daemon, code server and runs."
  value       = { for component, group in aws_cloudwatch_log_group.this : component => group.name }
}

output "database_endpoint" {
  description = "host:port of the Dagster instance's PostgreSQL (reachable from the tasks only)."
  value       = aws_db_instance.dagster.endpoint
}

output "database_secret_arn" {
  description = "ARN of the RDS-managed secret holding the master user's password (never the password)."
  value       = aws_db_instance.dagster.master_user_secret[0].secret_arn
}

output "run_task_network" {
  description = "Subnets and security group of the run tasks: for a one-off task (aws ecs run-task) such as setting the pools."
  value = {
    subnets         = var.private_subnet_ids
    security_groups = [aws_security_group.daemon.id]
  }
}
