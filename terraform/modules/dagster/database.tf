# PostgreSQL for the Dagster instance (runs, event logs, schedule and sensor state; no health data
# beyond what runs log). Private, encrypted, backed up, protected from deletion. RDS generates the
# master password and keeps it in Secrets Manager: it is in no variable, no state, no output; the
# task definitions hand it to the containers as an ECS secret (DAGSTER_PG_PASSWORD). The same in both
# profiles but for the class (local.db_instance_class: db.t4g.small, or db.t4g.micro in small).

resource "aws_db_subnet_group" "this" {
  name        = "${local.name}-dagster"
  description = "Private subnets of the Dagster instance database."
  subnet_ids  = var.private_subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name        = "${local.name}-dagster-postgres17"
  family      = "postgres17"
  description = "TLS only; slow statements and DDL logged."

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_db_instance" "dagster" {
  #checkov:skip=CKV_AWS_157:Single-AZ: it holds only Dagster's own state, restorable from backups (point-in-time); Multi-AZ would double the idle cost for an operators' tool.
  #checkov:skip=CKV_AWS_118:Enhanced Monitoring needs another role and adds cost; the CloudWatch RDS metrics and the exported PostgreSQL log are enough for this instance.
  #checkov:skip=CKV_AWS_353:Performance Insights is not wanted for Dagster's small, known queries (and not offered on every small class).
  #checkov:skip=CKV_AWS_161:dagster-postgres connects with a password (the RDS-managed secret); it has no IAM token support, so IAM authentication would only add a way in.
  identifier     = "${local.name}-dagster"
  engine         = "postgres"
  engine_version = "17"
  instance_class = local.db_instance_class

  db_name                     = "dagster"
  username                    = "dagster"
  manage_master_user_password = true
  port                        = 5432

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = 4 * var.db_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  multi_az               = false
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period         = var.db_backup_retention_days
  backup_window                   = "19:00-20:00"         # 04:00-05:00 Asia/Tokyo, after the daily run
  maintenance_window              = "sun:20:00-sun:21:00" # Monday 05:00 Asia/Tokyo
  copy_tags_to_snapshot           = true
  deletion_protection             = true
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${local.name}-dagster-final"
  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  depends_on = [aws_cloudwatch_log_group.database]
}

# RDS would create the export log groups itself, with no retention: create them first.
resource "aws_cloudwatch_log_group" "database" {
  #checkov:skip=CKV_AWS_158:PostgreSQL's own log (connections, DDL, slow statements; no passwords); service-encrypted at rest, as the tasks' logs.
  for_each          = toset(["postgresql", "upgrade"])
  name              = "/aws/rds/instance/${local.name}-dagster/${each.key}"
  retention_in_days = var.log_retention_days
}

# RDS rotates the managed password (every 7 days by default). ECS resolves a secret when a task
# starts, so a rotation leaves running tasks with the old password until they are replaced: once a
# month, at night in Tokyo (after the 01:00 daily run), and the tasks' health checks connect to the
# database so that ECS replaces a task whose password has gone stale (ecs.tf).
resource "aws_secretsmanager_secret_rotation" "database" {
  secret_id          = aws_db_instance.dagster.master_user_secret[0].secret_arn
  rotate_immediately = false

  rotation_rules {
    schedule_expression = "cron(0 17 1 * ? *)" # the 1st of each month, 02:00 Asia/Tokyo
    duration            = "1h"
  }
}
