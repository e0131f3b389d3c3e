# What an operator needs after apply. The database password is in none of them: only the ARN of
# the secret RDS keeps it in.

output "ui_url" {
  description = "The Dagster UI: standard, sign-in at the identity provider first; small, on this machine while a Session Manager port forward to the task runs (docs/operations/deploying.md)."
  value       = local.small ? "http://127.0.0.1:${local.webserver_port}/" : "https://${var.ui_hostname}/"
}

output "oidc_redirect_uri" {
  description = "Register this as the OIDC client's redirect (callback) URI (standard; null in small)."
  value       = local.small ? null : "https://${var.ui_hostname}/oauth2/idpresponse"
}

output "alb_dns_name" {
  description = "Point ui_hostname at this name (CNAME, or a Route 53 alias) (standard; null in small)."
  value       = one(aws_lb.this[*].dns_name)
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
  description = "ECS services (aws ecs update-service --force-new-deployment ...): webserver, daemon, code (standard) or dagster (small)."
  value = local.small ? tomap({ dagster = aws_ecs_service.dagster[0].name }) : tomap({
    webserver = aws_ecs_service.webserver[0].name
    daemon    = aws_ecs_service.daemon[0].name
    code      = aws_ecs_service.code[0].name
  })
}

output "run_task_definition_family" {
  description = "The task definition each run starts from (DAGSTER_RUN_TASK_DEFINITION); null in small, whose runs are subprocesses of its task."
  value       = local.small ? null : local.run_family
}

output "log_groups" {
  description = "CloudWatch log groups: webserver, daemon, code server and runs (standard), or the one task (small)."
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
  description = "Task definition, subnets, security group and public address of a one-off task (aws ecs run-task) such as setting the pools: the run task definition in private subnets (standard), or the one task's definition in a public subnet (small)."
  value = local.small ? {
    task_definition  = aws_ecs_task_definition.this["dagster"].family
    subnets          = var.public_subnet_ids
    security_groups  = [aws_security_group.task[0].id]
    assign_public_ip = "ENABLED"
    } : {
    task_definition  = local.run_family
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.daemon[0].id]
    assign_public_ip = "DISABLED"
  }
}
