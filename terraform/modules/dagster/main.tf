# The operators' Dagster on ECS Fargate, from the one image (deploy/Dockerfile), in one of two
# profiles (var.profile; docs/operations/deploying.md weighs them).
# standard:
#   internet -> ALB :443 (OIDC login first) -> webserver :3000 --gRPC--> code server :4000
#                                              daemon --------gRPC--> code server :4000
#                                              daemon --RunTask--> one run task per run
#   webserver, daemon, code server, runs -> PostgreSQL (RDS) :5432, password from Secrets Manager
# small: one ARM64 task (deploy/small-task.sh) in a public subnet, no inbound rule at all:
#   operator --IAM--> Session Manager port forward -> webserver 127.0.0.1:3000 --gRPC--> code server
#   127.0.0.1:4000 <--gRPC-- daemon; runs are subprocesses of the code server; the task -> PostgreSQL
# Resources of one profile only carry `count = local.standard ? 1 : 0` (or local.small); the
# for_each ones follow local.components. Files: network.tf (security groups), alb.tf, database.tf,
# iam.tf, ecs.tf.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # deploy/workspace.yaml names the code server <name>-code.<name>.local:4000 and deploy/dagster.yaml
  # names the run container `health-pipeline`: both are baked into the image.
  name           = "health-pipeline"
  container_name = "health-pipeline"
  code_port      = 4000
  webserver_port = 3000
  run_family     = "${local.name}-run"

  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  ecs_arn    = "arn:${data.aws_partition.current.partition}:ecs:${local.region}:${local.account_id}"
  image      = "${aws_ecr_repository.this.repository_url}:${var.image_tag}"

  standard = var.profile == "standard"
  small    = var.profile == "small"

  # Every task definition of the deployment (ecs.tf): standard's three services and the runs'
  # template, or small's one task.
  components = local.small ? toset(["dagster"]) : toset(["webserver", "daemon", "code", "run"])

  db_instance_class = coalesce(var.db_instance_class, local.small ? "db.t4g.micro" : "db.t4g.small")
}

resource "aws_ecs_cluster" "this" {
  #checkov:skip=CKV_AWS_65:Container Insights bills per metric and log event while idle; the free AWS/ECS service CPU and memory metrics and the container logs cover the services.
  name = local.name

  setting {
    name  = "containerInsights"
    value = "disabled"
  }
}

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:The image holds code and public dependencies, no data or secret; AES256 at rest is enough and a CMK would add kms grants to every execution role.
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 30 most recent images (rollbacks); older ones are never run again."
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 30
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Process output of Dagster (no credentials: the password only reaches the tasks as an ECS secret); CloudWatch Logs encrypts it at rest with service keys, and a CMK would need its own key policy and administrators.
  for_each          = local.components
  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
}

# The code server's name on the VPC's resolver: deploy/workspace.yaml's grpc_server host (standard;
# small's processes meet on loopback).
resource "aws_service_discovery_private_dns_namespace" "this" {
  count       = local.standard ? 1 : 0
  name        = "${local.name}.local"
  description = "Service discovery for the Dagster code server."
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "code" {
  count = local.standard ? 1 : 0
  name  = "${local.name}-code"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this[0].id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }
}
