# Roles of the Dagster tasks. Execution roles (one per task definition): pull the image, write that
# task's log group, read the database secret. Task roles: the webserver may watch and stop run
# tasks (terminating a run from the UI); the daemon may also start them (EcsRunLauncher) and pass
# exactly the two roles a run task uses. The code server and the runs use the pipeline's role
# (modules/iam). No wildcard action anywhere; "*" resources only where AWS has no resource-level
# permission for the action.

locals {
  run_tasks = "${local.ecs_arn}:task/${aws_ecs_cluster.this.name}/*"
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each           = local.components
  name               = "${local.name}-${each.key}-execution"
  description        = "ECS agent for the Dagster ${each.key} task: image pull, its logs, the database secret."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  for_each = local.components

  # GetAuthorizationToken has no resource-level permissions.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullTheImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [aws_ecr_repository.this.arn]
  }

  # CreateLogStream is authorized on the group, PutLogEvents on its streams.
  statement {
    sid     = "WriteItsLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      aws_cloudwatch_log_group.this[each.key].arn,
      "${aws_cloudwatch_log_group.this[each.key].arn}:log-stream:*",
    ]
  }

  statement {
    sid       = "ReadTheDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.dagster.master_user_secret[0].secret_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.components
  name     = "ecs-execution"
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.execution[each.key].json
}

# -- the webserver ---------------------------------------------------------------------------------
resource "aws_iam_role" "webserver" {
  name               = "${local.name}-webserver-task"
  description        = "Dagster webserver: watch and stop run tasks."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "webserver" {
  statement {
    sid       = "WatchAndStopRunTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.run_tasks]
  }

  # EcsRunLauncher describes its run task definition when the instance loads it.
  statement {
    sid       = "DescribeTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "webserver" {
  name   = "dagster-webserver"
  role   = aws_iam_role.webserver.id
  policy = data.aws_iam_policy_document.webserver.json
}

# -- the daemon ------------------------------------------------------------------------------------
resource "aws_iam_role" "daemon" {
  name               = "${local.name}-daemon-task"
  description        = "Dagster daemon: start, watch and stop run tasks in the cluster."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "daemon" {
  statement {
    sid       = "StartRunTasks"
    actions   = ["ecs:RunTask"]
    resources = ["${local.ecs_arn}:task-definition/${local.run_family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  # RunTask tags the task with the run's id and job (dagster/run_id, ...).
  statement {
    sid       = "TagRunTasksAtLaunch"
    actions   = ["ecs:TagResource"]
    resources = [local.run_tasks]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  # Run monitoring and termination; DescribeTasks also reads the daemon's own task (its network).
  statement {
    sid       = "WatchAndStopRunTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.run_tasks]
  }

  # Neither has resource-level permissions: the run task definition, and the daemon's own network
  # interface (its subnets and security group, which the run tasks inherit).
  statement {
    sid       = "DescribeTaskDefinitionsAndInterfaces"
    actions   = ["ecs:DescribeTaskDefinition", "ec2:DescribeNetworkInterfaces"]
    resources = ["*"]
  }

  # A failed run's last log lines go into its failure event.
  statement {
    sid       = "ReadRunLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["run"].arn}:log-stream:*"]
  }

  statement {
    sid     = "PassTheRunRoles"
    actions = ["iam:PassRole"]
    resources = [
      var.pipeline_role_arn,
      aws_iam_role.execution["run"].arn,
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "daemon" {
  name   = "dagster-daemon"
  role   = aws_iam_role.daemon.id
  policy = data.aws_iam_policy_document.daemon.json
}
