# The standard profile's resources are counted (`count = local.standard ? 1 : 0`): a deployment whose
# state holds them at their uncounted addresses keeps each object as instance 0. Terraform infers
# this move; its refactoring guide recommends writing it out.

moved {
  from = aws_lb.this
  to   = aws_lb.this[0]
}

moved {
  from = aws_lb_target_group.webserver
  to   = aws_lb_target_group.webserver[0]
}

moved {
  from = aws_lb_listener.http
  to   = aws_lb_listener.http[0]
}

moved {
  from = aws_lb_listener.https
  to   = aws_lb_listener.https[0]
}

moved {
  from = aws_security_group.alb
  to   = aws_security_group.alb[0]
}

moved {
  from = aws_security_group.webserver
  to   = aws_security_group.webserver[0]
}

moved {
  from = aws_security_group.daemon
  to   = aws_security_group.daemon[0]
}

moved {
  from = aws_security_group.code
  to   = aws_security_group.code[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.alb_https
  to   = aws_vpc_security_group_ingress_rule.alb_https[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.alb_http_redirect
  to   = aws_vpc_security_group_ingress_rule.alb_http_redirect[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.webserver_from_alb
  to   = aws_vpc_security_group_ingress_rule.webserver_from_alb[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.code_from_webserver
  to   = aws_vpc_security_group_ingress_rule.code_from_webserver[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.code_from_daemon
  to   = aws_vpc_security_group_ingress_rule.code_from_daemon[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.database_from_webserver
  to   = aws_vpc_security_group_ingress_rule.database_from_webserver[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.database_from_daemon
  to   = aws_vpc_security_group_ingress_rule.database_from_daemon[0]
}

moved {
  from = aws_vpc_security_group_ingress_rule.database_from_code
  to   = aws_vpc_security_group_ingress_rule.database_from_code[0]
}

moved {
  from = aws_vpc_security_group_egress_rule.alb_to_webserver
  to   = aws_vpc_security_group_egress_rule.alb_to_webserver[0]
}

moved {
  from = aws_ecs_service.webserver
  to   = aws_ecs_service.webserver[0]
}

moved {
  from = aws_ecs_service.daemon
  to   = aws_ecs_service.daemon[0]
}

moved {
  from = aws_ecs_service.code
  to   = aws_ecs_service.code[0]
}

moved {
  from = aws_iam_role.webserver
  to   = aws_iam_role.webserver[0]
}

moved {
  from = aws_iam_role.daemon
  to   = aws_iam_role.daemon[0]
}

moved {
  from = aws_iam_role_policy.webserver
  to   = aws_iam_role_policy.webserver[0]
}

moved {
  from = aws_iam_role_policy.daemon
  to   = aws_iam_role_policy.daemon[0]
}

moved {
  from = aws_service_discovery_private_dns_namespace.this
  to   = aws_service_discovery_private_dns_namespace.this[0]
}

moved {
  from = aws_service_discovery_service.code
  to   = aws_service_discovery_service.code[0]
}
