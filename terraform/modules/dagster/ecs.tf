# standard: four task definitions from the one image: the webserver, the daemon and the code server
# run as services; `health-pipeline-run` is the template the daemon's EcsRunLauncher starts one task
# of per run (deploy/dagster.yaml: task_definition from DAGSTER_RUN_TASK_DEFINITION).
# small: one task definition, `health-pipeline-dagster`, on ARM64: deploy/small-task.sh runs the code
# server, the webserver and the daemon on loopback, runs are subprocesses (deploy/dagster-small.yaml);
# ECS Exec is on, so that operators reach the webserver through a Session Manager port forward.
# Every container gets the same settings and database address as plain environment, and the
# password only as a secret.

locals {
  database_environment = {
    DAGSTER_PG_HOST     = aws_db_instance.dagster.address
    DAGSTER_PG_PORT     = tostring(aws_db_instance.dagster.port)
    DAGSTER_PG_USERNAME = aws_db_instance.dagster.username
    DAGSTER_PG_DB       = aws_db_instance.dagster.db_name
  }
  task_environment = {
    webserver = { DAGSTER_RUN_TASK_DEFINITION = local.run_family }
    daemon    = { DAGSTER_RUN_TASK_DEFINITION = local.run_family }
    code      = { DAGSTER_CODE_SERVER_HOST = "0.0.0.0" } # the image's default is loopback
    run       = {}
    dagster   = { DAGSTER_HOME = local.small_home, DAGSTER_UI_PORT = tostring(local.webserver_port) }
  }
  environment = {
    for component in local.components : component => [
      for name, value in merge(var.environment, local.database_environment, local.task_environment[component]) :
      { name = name, value = value }
    ]
  }
  # ECS reads the key `password` of the RDS-managed secret's JSON when the task starts.
  secrets = [{
    name      = "DAGSTER_PG_PASSWORD"
    valueFrom = "${aws_db_instance.dagster.master_user_secret[0].secret_arn}:password::"
  }]

  workspace = "/opt/dagster/app/deploy/workspace.yaml"
  # The image's copies of deploy/small-task.sh and deploy/dagster-small.yaml (deploy/Dockerfile).
  small_task = "/opt/dagster/app/deploy/small-task.sh"
  small_home = "/opt/dagster/home-small"
  commands = {
    webserver = ["dagster-webserver", "--host", "0.0.0.0", "--port", tostring(local.webserver_port), "--workspace", local.workspace]
    daemon    = ["dagster-daemon", "run", "--workspace", local.workspace]
    code      = null # the image's CMD: dagster code-server start ... --port 4000
    run       = null # EcsRunLauncher gives each run task its command
    dagster   = ["bash", local.small_task]
  }
  # small's task maps no port: its servers listen on loopback only.
  ports = {
    webserver = [local.webserver_port]
    daemon    = []
    code      = [local.code_port]
    run       = []
    dagster   = []
  }
  # Each service's health check opens a database connection: after RDS rotates the password the
  # check fails and ECS replaces the task, which then starts with the new one.
  database_check = "python -c 'import os, psycopg2; e = os.environ; psycopg2.connect(host=e[\"DAGSTER_PG_HOST\"], port=e[\"DAGSTER_PG_PORT\"], user=e[\"DAGSTER_PG_USERNAME\"], password=e[\"DAGSTER_PG_PASSWORD\"], dbname=e[\"DAGSTER_PG_DB\"], sslmode=\"require\", connect_timeout=5).close()'"
  # small's: the webserver answers on loopback and the database takes the password (the script ends
  # the task when any of its three processes exits). No dagster command: each would import Dagster
  # every minute on a quarter of a vCPU.
  webserver_check = "python -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:${local.webserver_port}/server_info\", timeout=10).close()'"
  health_checks = {
    webserver = local.database_check
    daemon    = "dagster-daemon liveness-check"
    code      = "dagster api grpc-health-check --port ${local.code_port} && ${local.database_check}"
    run       = null
    dagster   = "${local.webserver_check} && ${local.database_check}"
  }
  task_role_arns = {
    webserver = local.standard ? aws_iam_role.webserver[0].arn : null
    daemon    = local.standard ? aws_iam_role.daemon[0].arn : null
    code      = var.pipeline_role_arn # sensors run in the code server, as the pipeline
    run       = var.pipeline_role_arn
    dagster   = var.pipeline_role_arn # sensors and runs, as the pipeline
  }
}

resource "aws_ecs_task_definition" "this" {
  for_each                 = local.components
  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_sizes[each.key].cpu
  memory                   = var.task_sizes[each.key].memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = local.task_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = local.small ? "ARM64" : "X86_64" # Graviton: 20% less per vCPU and GB
  }

  container_definitions = jsonencode([{
    name         = local.container_name
    image        = local.image
    essential    = true
    command      = local.commands[each.key]
    environment  = local.environment[each.key]
    secrets      = local.secrets
    portMappings = [for port in local.ports[each.key] : { containerPort = port, protocol = "tcp" }]
    # An init process as PID 1 forwards SIGTERM and reaps the processes ECS Exec's agent starts.
    linuxParameters = local.small ? { initProcessEnabled = true } : null
    healthCheck = local.health_checks[each.key] == null ? null : {
      command     = ["CMD-SHELL", local.health_checks[each.key]]
      interval    = 60
      timeout     = 20
      retries     = 3
      startPeriod = local.small ? 300 : 120 # small's three processes start one after another
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "webserver" {
  count                             = local.standard ? 1 : 0
  name                              = "${local.name}-webserver"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this["webserver"].arn
  desired_count                     = 1
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  health_check_grace_period_seconds = 120

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.webserver[0].id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.webserver[0].arn
    container_name   = local.container_name
    container_port   = local.webserver_port
  }

  depends_on = [aws_lb_listener.https]
}

# Exactly one daemon at a time: a deployment stops the old one before starting the new one.
resource "aws_ecs_service" "daemon" {
  count                              = local.standard ? 1 : 0
  name                               = "${local.name}-daemon"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this["daemon"].arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.daemon[0].id]
    assign_public_ip = false
  }
}

resource "aws_ecs_service" "code" {
  count                  = local.standard ? 1 : 0
  name                   = "${local.name}-code"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.this["code"].arn
  desired_count          = 1
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.code[0].id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.code[0].arn
  }
}

# small: the one task. No load balancer and no inbound rule: its public address (instead of a NAT
# gateway) carries only the connections it opens, to the AWS APIs and Session Manager. Exactly one
# at a time (one daemon): a deployment stops the old task before starting the new one.
resource "aws_ecs_service" "dagster" {
  #checkov:skip=CKV_AWS_333:The public address replaces a NAT gateway (about USD 45 a month) for outbound HTTPS only; the task's security group has no ingress rule and its servers listen on loopback.
  count                              = local.small ? 1 : 0
  name                               = "${local.name}-dagster"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this["dagster"].arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  propagate_tags                     = "SERVICE"
  enable_execute_command             = true # the way in: IAM-authorized Session Manager sessions
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.public_subnet_ids
    security_groups  = [aws_security_group.task[0].id]
    assign_public_ip = true
  }
}
