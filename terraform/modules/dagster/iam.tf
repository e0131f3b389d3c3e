# Roles of the Dagster tasks. Execution roles (one per task definition): pull the image, write that
# task's log group, read the database secret. Task roles: the webserver may watch and stop run
# tasks (terminating a run from the UI); the daemon may also start them (EcsRunLauncher) and pass
# exactly the two roles a run task uses. The code server and the runs use the pipeline's role
# (modules/iam). small: one execution role and, as task role, the pipeline's role, which gets
# the four ssmmessages actions ECS Exec's agent needs (its Session Manager channels). No wildcard
# action anywhere; "*" resources only where AWS has no resource-level permission for the action.

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
  count              = local.standard ? 1 : 0
  name               = "${local.name}-webserver-task"
  description        = "Dagster webserver: watch and stop run tasks."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "webserver" {
  count = local.standard ? 1 : 0

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
  count  = local.standard ? 1 : 0
  name   = "dagster-webserver"
  role   = aws_iam_role.webserver[0].id
  policy = data.aws_iam_policy_document.webserver[0].json
}

# -- the daemon ------------------------------------------------------------------------------------
resource "aws_iam_role" "daemon" {
  count              = local.standard ? 1 : 0
  name               = "${local.name}-daemon-task"
  description        = "Dagster daemon: start, watch and stop run tasks in the cluster."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "daemon" {
  count = local.standard ? 1 : 0

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
  count  = local.standard ? 1 : 0
  name   = "dagster-daemon"
  role   = aws_iam_role.daemon[0].id
  policy = data.aws_iam_policy_document.daemon[0].json
}

# -- small: ECS Exec in the one task ---------------------------------------------------------------
# The agent ECS Exec injects opens its control and data channels with the task role's credentials
# ("Using Amazon ECS Exec", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html).
# ssmmessages has no resource types: the "*" is the resource, the actions are named. Who may open a
# session is the operators' own IAM policy (ssm:StartSession on this cluster's tasks).
data "aws_iam_policy_document" "ecs_exec" {
  count = local.small ? 1 : 0

  statement {
    sid = "SessionManagerChannels"
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }

  # With the cluster's default ECS Exec logging, the agent writes a shell session's output to the
  # container's log group (the same page, "Logging and auditing"); port forwards carry no output.
  statement {
    sid       = "ExecSessionLogs"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["dagster"].arn}:log-stream:*", aws_cloudwatch_log_group.this["dagster"].arn]
  }

  statement {
    sid       = "FindTheLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "ecs_exec" {
  count  = local.small ? 1 : 0
  name   = "dagster-ecs-exec"
  role   = reverse(split("/", var.pipeline_role_arn))[0] # the role's name: the last part of its ARN
  policy = data.aws_iam_policy_document.ecs_exec[0].json
}
