# Security groups: the only ingress from outside is the ALB's 443 (and 80, which only redirects).
# The webserver takes traffic from the ALB only; the code server from the webserver and the daemon
# only; PostgreSQL from the tasks only. Run tasks get the daemon's group (EcsRunLauncher's
# use_current_ecs_task_config). Egress: HTTPS to AWS APIs (and, for the ALB, the identity provider).
# The small profile has one group for its one task, with no ingress rule at all (its webserver and
# code server listen on loopback; operators come in through Session Manager, which the task dials
# out to), and the database takes that group only.

resource "aws_security_group" "alb" {
  count       = local.standard ? 1 : 0
  name        = "${local.name}-alb"
  description = "Dagster UI load balancer: HTTPS from the internet, HTTP only to redirect."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "webserver" {
  count       = local.standard ? 1 : 0
  name        = "${local.name}-webserver"
  description = "Dagster webserver: from the load balancer only."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "daemon" {
  count       = local.standard ? 1 : 0
  name        = "${local.name}-daemon"
  description = "Dagster daemon and the run tasks it starts: no ingress."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "code" {
  count       = local.standard ? 1 : 0
  name        = "${local.name}-code"
  description = "Dagster code server: gRPC from the webserver and the daemon only."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "task" {
  count       = local.small ? 1 : 0
  name        = "${local.name}-task"
  description = "Dagster's one task (small profile): no ingress; out to AWS APIs and PostgreSQL."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "Dagster instance PostgreSQL: from the Dagster tasks only."
  vpc_id      = var.vpc_id
}

# -- ingress ---------------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  count             = local.standard ? 1 : 0
  security_group_id = aws_security_group.alb[0].id
  description       = "HTTPS from operators; the listener authenticates before forwarding."
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  #checkov:skip=CKV_AWS_260:Port 80 only answers with a redirect to HTTPS (the listener has no other action); nothing is served over HTTP.
  count             = local.standard ? 1 : 0
  security_group_id = aws_security_group.alb[0].id
  description       = "HTTP, redirected to HTTPS."
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "webserver_from_alb" {
  count                        = local.standard ? 1 : 0
  security_group_id            = aws_security_group.webserver[0].id
  description                  = "UI traffic from the load balancer."
  referenced_security_group_id = aws_security_group.alb[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.webserver_port
  to_port                      = local.webserver_port
}

resource "aws_vpc_security_group_ingress_rule" "code_from_webserver" {
  count                        = local.standard ? 1 : 0
  security_group_id            = aws_security_group.code[0].id
  description                  = "gRPC from the webserver."
  referenced_security_group_id = aws_security_group.webserver[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.code_port
  to_port                      = local.code_port
}

resource "aws_vpc_security_group_ingress_rule" "code_from_daemon" {
  count                        = local.standard ? 1 : 0
  security_group_id            = aws_security_group.code[0].id
  description                  = "gRPC from the daemon (sensor and schedule ticks)."
  referenced_security_group_id = aws_security_group.daemon[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.code_port
  to_port                      = local.code_port
}

resource "aws_vpc_security_group_ingress_rule" "database_from_webserver" {
  count                        = local.standard ? 1 : 0
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the webserver."
  referenced_security_group_id = aws_security_group.webserver[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_ingress_rule" "database_from_daemon" {
  count                        = local.standard ? 1 : 0
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the daemon and the run tasks."
  referenced_security_group_id = aws_security_group.daemon[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_ingress_rule" "database_from_task" {
  count                        = local.small ? 1 : 0
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from Dagster's one task."
  referenced_security_group_id = aws_security_group.task[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_ingress_rule" "database_from_code" {
  count                        = local.standard ? 1 : 0
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the code server (sensors read the instance)."
  referenced_security_group_id = aws_security_group.code[0].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

# -- egress ----------------------------------------------------------------------------------------
resource "aws_vpc_security_group_egress_rule" "alb_to_webserver" {
  count                        = local.standard ? 1 : 0
  security_group_id            = aws_security_group.alb[0].id
  description                  = "Forward to the webserver."
  referenced_security_group_id = aws_security_group.webserver[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.webserver_port
  to_port                      = local.webserver_port
}

# HTTPS out: the ALB calls the identity provider's token and user-info endpoints; the tasks pull
# the image and call AWS APIs (ECR, Logs, Secrets Manager, ECS, Athena, Glue, S3, ...; small's task
# also Session Manager's ssmmessages).
resource "aws_vpc_security_group_egress_rule" "https" {
  for_each = local.standard ? tomap({
    alb       = aws_security_group.alb[0].id
    webserver = aws_security_group.webserver[0].id
    daemon    = aws_security_group.daemon[0].id
    code      = aws_security_group.code[0].id
  }) : tomap({ task = aws_security_group.task[0].id })
  security_group_id = each.value
  description       = "HTTPS to the identity provider and AWS APIs."
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "to_code" {
  for_each = local.standard ? tomap({
    webserver = aws_security_group.webserver[0].id
    daemon    = aws_security_group.daemon[0].id
  }) : tomap({})
  security_group_id            = each.value
  description                  = "gRPC to the code server."
  referenced_security_group_id = aws_security_group.code[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.code_port
  to_port                      = local.code_port
}

resource "aws_vpc_security_group_egress_rule" "to_database" {
  for_each = local.standard ? tomap({
    webserver = aws_security_group.webserver[0].id
    daemon    = aws_security_group.daemon[0].id
    code      = aws_security_group.code[0].id
  }) : tomap({ task = aws_security_group.task[0].id })
  security_group_id            = each.value
  description                  = "PostgreSQL."
  referenced_security_group_id = aws_security_group.database.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}
