# The one way in: an internet-facing ALB in front of the webserver only. Dagster's open-source
# webserver has no login, so every request is authenticated at the identity provider before it is
# forwarded; HTTP only redirects to HTTPS. Standard profile only: the small one has no load
# balancer, its UI is reached through Session Manager (ecs.tf).

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:The identity provider logs every sign-in; ALB access logs would need a log bucket with an ELB delivery policy and record no user identity.
  #checkov:skip=CKV2_AWS_28:Only operators who signed in at the identity provider reach the webserver; requests without a session end at the ALB's redirect to it. A WAF would add cost and no smaller surface.
  count                      = local.standard ? 1 : 0
  name                       = "${local.name}-ui"
  load_balancer_type         = "application"
  internal                   = false
  ip_address_type            = "ipv4"
  security_groups            = [aws_security_group.alb[0].id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = true

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null && var.ui_hostname != null && var.oidc != null && var.oidc_client_secret != null
      error_message = "The standard profile's UI needs certificate_arn, ui_hostname, oidc and oidc_client_secret."
    }
  }
}

resource "aws_lb_target_group" "webserver" {
  count                = local.standard ? 1 : 0
  name                 = "${local.name}-web"
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = local.webserver_port
  deregistration_delay = 30

  health_check {
    path                = "/server_info"
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  count             = local.standard ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  count             = local.standard ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
  certificate_arn   = var.certificate_arn

  # 1: sign in at the identity provider (a request without a valid session is redirected there).
  default_action {
    type  = "authenticate-oidc"
    order = 1

    authenticate_oidc {
      issuer                     = var.oidc.issuer
      authorization_endpoint     = var.oidc.authorization_endpoint
      token_endpoint             = var.oidc.token_endpoint
      user_info_endpoint         = var.oidc.user_info_endpoint
      client_id                  = var.oidc.client_id
      client_secret              = var.oidc_client_secret
      scope                      = "openid email"
      on_unauthenticated_request = "authenticate"
      session_timeout            = var.session_timeout_seconds
    }
  }

  # 2: only then, the webserver.
  default_action {
    type             = "forward"
    order            = 2
    target_group_arn = aws_lb_target_group.webserver[0].arn
  }
}
