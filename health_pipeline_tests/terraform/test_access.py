"""Who can reach what: the producer's entry point, the Dagster role's actions, the login before the
webserver, the security groups, and no wildcard action anywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from health_pipeline.aws_permissions import DAGSTER_ROLE_ACTIONS
from health_pipeline.schema.terraform import _unquote
from health_pipeline_tests.support.terraform_hcl import (
    PROFILES,
    TERRAFORM_DIR,
    UNSCOPABLE_ACTIONS,
    Stack,
    alerts_topic,
    block,
    container_definitions,
    copy,
    edited_copy,
    everywhere,
    modules,
    named_ref,
    profile_of,
    statements,
    text,
)

WORLD = {"0.0.0.0/0", "::/0"}

AUTHENTICATE = {"authenticate-oidc", "authenticate-cognito"}


def check_entry_point_requires_auth(stack: Stack) -> None:
    """The app reaches the producer only through a function URL with AWS_IAM (SigV4) auth: no URL
    without it, no resource policy for everyone, no API Gateway route without an authorizer."""
    urls = everywhere(stack, "resource", "aws_lambda_function_url")
    assert urls, "the producer has no entry point"
    for module, name, url in urls:
        auth = stack.value(module, url.get("authorization_type"))
        assert auth == "AWS_IAM", f"{module}: aws_lambda_function_url.{name} takes requests with {auth!r}"
    for module, name, permission in everywhere(stack, "resource", "aws_lambda_permission"):
        principal = str(stack.value(module, permission.get("principal")))
        assert principal != "*" and stack.value(module, permission.get("function_url_auth_type", "")) != "NONE", (
            f"{module}: aws_lambda_permission.{name} lets anyone invoke the function"
        )
    for type_name in ("aws_apigatewayv2_route", "aws_api_gateway_method"):
        for module, name, route in everywhere(stack, "resource", type_name):
            kind = stack.value(module, route.get("authorization_type", route.get("authorization", "NONE")))
            assert kind not in ("NONE", None), f"{module}: {type_name}.{name} takes unauthenticated requests"
    invoke = statements(stack, "lambda", "invoke")
    assert {a for s in invoke for a in (_unquote(x) for x in s["actions"])} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    assert all(text(r) == "${aws_lambda_function.this.arn}" for s in invoke for r in s["resources"])


def check_dagster_role_actions(stack: Stack) -> None:
    granted: set[str] = set()
    for statement in statements(stack, "iam", "dagster"):
        assert _unquote(statement.get("effect", '"Allow"')) == "Allow", "the Dagster policy must only allow"
        actions = {_unquote(a) for a in statement["actions"]}
        assert not any("*" in a for a in actions), f"wildcard action in the Dagster policy: {sorted(actions)}"
        resources = [_unquote(r) for r in statement["resources"]]
        if "*" in resources:
            assert actions <= UNSCOPABLE_ACTIONS, f"{sorted(actions - UNSCOPABLE_ACTIONS)} granted on * but scopable"
        granted |= actions
    publishing = [
        st for st in statements(stack, "iam", "dagster") if "sns:Publish" in {_unquote(a) for a in st["actions"]}
    ]
    assert len(publishing) == 1, f"{len(publishing)} statements of the Dagster policy grant sns:Publish"
    (statement,) = publishing
    assert {_unquote(a) for a in statement["actions"]} == {"sns:Publish"}, "the SNS statement grants more than Publish"
    resources = [stack.value("iam", r) for r in statement["resources"]]
    assert resources == [alerts_topic(stack)], f"the Dagster role may publish to {resources}, not the topic only"
    missing, extra = DAGSTER_ROLE_ACTIONS - granted, granted - DAGSTER_ROLE_ACTIONS
    assert not missing and not extra, (
        f"modules/iam grants what the code does not call: {sorted(extra)}; and lacks what it calls: {sorted(missing)}."
        " health_pipeline/aws_permissions.py and the policy must list the same actions."
    )


def _listeners(stack: Stack) -> dict[tuple, dict]:
    return {(m, name): body for m, name, body in everywhere(stack, "resource", "aws_lb_listener")}


def _script_hosts(script: Path) -> dict[str, list[str]]:
    """deploy/small-task.sh's `--host` arguments of the webserver and the code server."""
    joined = script.read_text(encoding="utf-8").replace("\\\n", " ")
    hosts: dict[str, list[str]] = {"dagster-webserver": [], "code-server start": []}
    for line in joined.splitlines():
        for command in hosts:
            if command in line and not line.lstrip().startswith("#"):
                words = line.split()
                hosts[command] += [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("--host", "-h")]
    return hosts


def check_webserver_behind_login(stack: Stack) -> None:
    """Nothing reaches the webserver without authentication. standard: every listener action that
    forwards to the webserver's target group comes after an authenticate action (that does not let
    unauthenticated requests through), on HTTPS with a TLS 1.3 policy; HTTP listeners only redirect to
    HTTPS. small: no load balancer, listener or target group at all; the one task maps no port, its
    webserver and code server listen on loopback (deploy/small-task.sh), and the way in is ECS Exec's
    Session Manager channel, which IAM authorizes."""
    if profile_of(stack) == "small":
        _check_small_ui_behind_iam(stack)
        return
    webserver_groups = {
        (m, named_ref(lb["target_group_arn"], "aws_lb_target_group"))
        for m, _, service in everywhere(stack, "resource", "aws_ecs_service")
        for lb in service.get("load_balancer", [])
    }
    assert webserver_groups, "no ECS service is behind a load balancer: where is the Dagster UI?"
    listeners = _listeners(stack)
    actions = [
        (m, f"aws_lb_listener.{n}", (m, n), body.get("default_action", [])) for (m, n), body in listeners.items()
    ]
    for m, name, rule in everywhere(stack, "resource", "aws_lb_listener_rule"):
        listener = (m, named_ref(rule["listener_arn"], "aws_lb_listener"))
        actions.append((m, f"aws_lb_listener_rule.{name}", listener, rule.get("action", [])))
    forwards = 0
    for module, where, listener, blocks in actions:
        protocol = stack.value(module, listeners[listener].get("protocol", "HTTP"))
        ordered = sorted(
            enumerate(blocks), key=lambda item: (stack.value(module, item[1].get("order", item[0] + 1)), item[0])
        )
        authenticated = False
        for _, action in ordered:
            kind = stack.value(module, action["type"])
            if protocol == "HTTP":
                assert kind == "redirect", f"{where} (HTTP) does {kind!r}: plain HTTP may only redirect to HTTPS"
                assert stack.value(module, block(action, "redirect").get("protocol")) == "HTTPS", f"{where}"
            if kind in AUTHENTICATE:
                config = block(action, kind.replace("-", "_"))
                unauthenticated = stack.value(module, config.get("on_unauthenticated_request", "authenticate"))
                assert unauthenticated in {"authenticate", "deny"}, (
                    f"{where}: {kind} lets unauthenticated requests through"
                )
                authenticated = True
            elif kind == "forward":
                targets = [action.get("target_group_arn")] + [
                    group["arn"] for forward in action.get("forward", []) for group in forward.get("target_group", [])
                ]
                groups = {(module, named_ref(t, "aws_lb_target_group")) for t in targets if t}
                if groups & webserver_groups:
                    assert authenticated, f"{where} forwards to the webserver before any authenticate action"
                    assert protocol == "HTTPS", f"{where} serves the webserver over {protocol}"
                    policy = str(stack.value(module, listeners[listener].get("ssl_policy", "")))
                    assert policy.startswith("ELBSecurityPolicy-TLS13-"), (
                        f"{where}: TLS policy {policy!r} is not TLS 1.3/1.2"
                    )
                    forwards += 1
    assert forwards, "no listener forwards to the webserver"


def _check_small_ui_behind_iam(stack: Stack) -> None:
    for type_name in ("aws_lb", "aws_lb_listener", "aws_lb_listener_rule", "aws_lb_target_group"):
        found = everywhere(stack, "resource", type_name)
        assert not found, f"the small profile has a {type_name} ({[name for _, name, _ in found]})"
    services = stack.typed("dagster", "resource", "aws_ecs_service")
    assert set(services) == {"dagster"}, f"the small profile runs the services {sorted(services)}"
    service = services["dagster"]
    assert not service.get("load_balancer"), "the small task is behind a load balancer"
    assert service.get("enable_execute_command") is True, "no ECS Exec: operators could not reach the UI"
    definition = stack.resource("dagster", "aws_ecs_task_definition", "this")
    (container,) = container_definitions(stack, "dagster")["this[dagster]"]
    assert "local.ports[each.key]" in text(container.get("portMappings", "")), "portMappings are not local.ports"
    ports = stack.value("dagster", stack.locals("dagster")["ports"]["dagster"])
    assert ports == [], f"the small task maps ports {ports}: its servers are for loopback only"
    command = [stack.value("dagster", part) for part in stack.locals("dagster")["commands"]["dagster"]]
    assert command[-1].endswith("/small-task.sh"), f"the small task runs {command}, not deploy/small-task.sh"
    for server, hosts in _script_hosts(stack.deploy / "small-task.sh").items():
        assert hosts and set(hosts) == {"127.0.0.1"}, f"deploy/small-task.sh starts {server} on {hosts or 'no host'}"
    assert text(container.get("command")) == "${local.commands[each.key]}" and definition.get("for_each")


# Where ingress is declared: resource type -> (address keys, source-group key, protocol key).
_INGRESS = {
    "aws_security_group": (("cidr_blocks", "ipv6_cidr_blocks"), "security_groups", "protocol"),
    "aws_security_group_rule": (("cidr_blocks", "ipv6_cidr_blocks"), "source_security_group_id", "protocol"),
    "aws_vpc_security_group_ingress_rule": (("cidr_ipv4", "cidr_ipv6"), "referenced_security_group_id", "ip_protocol"),
}


def _as_list(raw: object) -> list:
    return [] if raw is None else raw if isinstance(raw, list) else [raw]


def _ingress_rules(stack: Stack) -> list[dict]:
    """Every ingress rule (inline blocks or separate resources): module, group, ports, protocol,
    addresses and source groups."""
    rules = []
    for module in modules(stack):
        for type_name, (address_keys, source_key, protocol_key) in _INGRESS.items():
            for name, body in stack.typed(module, "resource", type_name).items():
                if type_name == "aws_security_group":
                    group, blocks = name, body.get("ingress", [])
                elif type_name == "aws_security_group_rule" and stack.value(module, body["type"]) != "ingress":
                    continue
                else:
                    group, blocks = named_ref(body["security_group_id"], "aws_security_group"), [body]
                for rule_block in blocks:
                    rules.append(
                        {
                            "module": module,
                            "where": f"{type_name}.{name}",
                            "group": group,
                            "ports": tuple(
                                stack.value(module, rule_block.get(k, d))
                                for k, d in (("from_port", 0), ("to_port", 65535))
                            ),
                            "protocol": str(stack.value(module, rule_block.get(protocol_key, "-1"))),
                            "cidrs": [
                                str(stack.value(module, c))
                                for key in address_keys
                                for c in _as_list(rule_block.get(key))
                            ],
                            "sources": [
                                named_ref(s, "aws_security_group") for s in _as_list(rule_block.get(source_key))
                            ],
                        }
                    )
    return rules


def check_security_groups(stack: Stack) -> None:
    """Nothing is open to the internet but the ALB's 443 (and 80, which only redirects); in the Dagster
    module, the webserver takes the ALB only, the code server the webserver and daemon only, the
    database the tasks only."""
    alb_groups = {
        (m, named_ref(group, "aws_security_group"))
        for m, _, lb in everywhere(stack, "resource", "aws_lb")
        for group in lb.get("security_groups", [])
    }
    rules = _ingress_rules(stack)
    for rule in rules:
        exposed = [c for c in rule["cidrs"] if c in WORLD or "${" in c]
        if exposed:
            assert (rule["module"], rule["group"]) in alb_groups, (
                f"{rule['where']} opens {rule['group']} to {exposed}: only the load balancer faces the internet"
            )
            assert rule["protocol"] == "tcp" and rule["ports"] in {(443, 443), (80, 80)}, (
                f"{rule['where']} opens {rule['protocol']} {rule['ports']} to {exposed}: only 443 (and 80 to redirect)"
            )
    services = {name: body for name, body in stack.typed("dagster", "resource", "aws_ecs_service").items()}
    role = {
        name: named_ref(block(body, "network_configuration")["security_groups"][0], "aws_security_group")
        for name, body in services.items()
    }
    (database,) = stack.typed("dagster", "resource", "aws_db_instance").values()
    role["database"] = named_ref(database["vpc_security_group_ids"][0], "aws_security_group")
    port = {"database": stack.value("dagster", database.get("port", 5432))}
    if profile_of(stack) == "small":
        # The one task takes nothing; the database takes the task only.
        allowed = {"database": {"dagster"}, "dagster": set()}
        assert set(role) == set(allowed), f"the small profile's services and database: {sorted(role)}"
    else:
        (role["alb"],) = {group for module, group in alb_groups if module == "dagster"}
        port["webserver"] = stack.value("dagster", block(services["webserver"], "load_balancer")["container_port"])
        port["code"] = stack.value("dagster", "${local.code_port}")
        allowed = {
            "webserver": {"alb"},
            "code": {"webserver", "daemon"},
            "database": {"webserver", "daemon", "code"},
            "daemon": set(),
        }
    by_group = {group: name for name, group in role.items()}
    flows = set()
    for rule in (r for r in rules if r["module"] == "dagster" and r["group"] != role.get("alb")):
        target = by_group.get(rule["group"])
        assert target in allowed, (
            f"{rule['where']}: ingress into {rule['group']}, which no Dagster task or the database uses"
        )
        assert allowed[target], f"{rule['where']}: ingress into the {target}'s group, which takes none"
        assert not rule["cidrs"], f"{rule['where']}: {target} takes addresses {rule['cidrs']}, not only security groups"
        sources = {by_group.get(source) for source in rule["sources"]}
        assert sources <= allowed[target], f"{rule['where']}: {target} reachable from {sorted(map(str, sources))}"
        assert rule["protocol"] == "tcp" and rule["ports"] == (port[target], port[target]), (
            f"{rule['where']}: {target} opens {rule['protocol']} {rule['ports']}, not only {port[target]}"
        )
        flows |= {(source, target) for source in sources}
    expected = {(source, target) for target, sources in allowed.items() for source in sources}
    assert flows == expected, f"missing flows (the deployment would not work): {sorted(expected - flows)}"


def _key_policy_documents(stack: Stack, module: str | None) -> set[str]:
    """Documents used as a KMS key policy, where the resource "*" is the key itself."""
    return {
        match.group(1)
        for body in stack.typed(module, "resource", "aws_kms_key").values()
        if (match := re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", text(body.get("policy", ""))))
    }


def check_no_wildcard_actions(stack: Stack) -> None:
    """No Allow statement grants a wildcard action; `*` resources only for actions AWS cannot scope;
    iam:PassRole only on named roles, to ECS tasks; every policy is a document this check reads."""
    for module, name, document in everywhere(stack, "data", "aws_iam_policy_document"):
        key_policy = name in _key_policy_documents(stack, module)
        for statement in document.get("statement", []):
            where = f"{module or 'envs/prod'}: {name} {text(statement.get('sid', ''))}"
            if _unquote(statement.get("effect", '"Allow"')) == "Deny":
                continue
            assert "not_actions" not in statement, f"{where}: not_actions allows everything else"
            actions = {_unquote(a) for a in statement["actions"]}
            assert not any("*" in a or "?" in a for a in actions), f"{where}: wildcard action in {sorted(actions)}"
            resources = [_unquote(r) for r in statement.get("resources", [])]
            if "*" in resources and not key_policy:
                assert actions <= UNSCOPABLE_ACTIONS, (
                    f"{where}: {sorted(actions - UNSCOPABLE_ACTIONS)} on * but scopable"
                )
            if "iam:PassRole" in actions:
                assert not any("*" in r for r in resources), f"{where}: iam:PassRole on {resources}"
                conditions = {_unquote(c["variable"]) for c in statement.get("condition", [])}
                assert "iam:PassedToService" in conditions, f"{where}: iam:PassRole to any service"
    for module in modules(stack):
        for type_name in ("aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy"):
            for name, body in stack.typed(module, "resource", type_name).items():
                assert re.fullmatch(
                    r"\$\{data\.aws_iam_policy_document\.\w+(\[[^\]]+\])?\.json\}", text(body["policy"])
                ), f"{type_name}.{name}: write the policy as an aws_iam_policy_document so it is checked"
        for type_name in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
            assert not stack.typed(module, "resource", type_name), (
                f"{type_name}: a managed policy cannot be checked here"
            )


CHECKS = {
    check.__name__: check
    for check in (
        check_entry_point_requires_auth,
        check_dagster_role_actions,
        check_webserver_behind_login,
        check_security_groups,
        check_no_wildcard_actions,
    )
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str) -> None:
    CHECKS[check](Stack(TERRAFORM_DIR, profile))


def test_a_pristine_copy_passes_every_check(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    pristine = Stack(copy(tmp_path))
    for check in CHECKS.values():
        check(pristine)


# (check, file under terraform/ or deploy/, original text, replacement): each edit must be caught by its check.
CARELESS_EDITS = [
    (
        "check_entry_point_requires_auth",
        "modules/lambda/main.tf",
        'authorization_type = "AWS_IAM"',
        'authorization_type = "NONE"',
    ),
    (
        "check_entry_point_requires_auth",
        "modules/lambda/main.tf",
        'resource "aws_iam_role_policy" "invoke" {',
        'resource "aws_lambda_permission" "public" {\n  action        = "lambda:InvokeFunctionUrl"\n'
        '  function_name = aws_lambda_function.this.function_name\n  principal     = "*"\n'
        '  function_url_auth_type = "NONE"\n}\n\nresource "aws_iam_role_policy" "invoke" {',
    ),
    (
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        '"athena:StopQueryExecution",',
        '"athena:StopQueryExecution",\n      "athena:DeleteWorkGroup",',
    ),
    (
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        "resources = [var.stream_arn]",
        'resources = ["*"]',
    ),
    # The operators' Dagster: the login, the security groups, IAM.
    ("check_webserver_behind_login", "modules/dagster/alb.tf", "order = 1", "order = 3"),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        'on_unauthenticated_request = "authenticate"',
        'on_unauthenticated_request = "allow"',
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        'type = "redirect"\n',
        'type             = "forward"\n    target_group_arn = aws_lb_target_group.webserver[0].arn\n',
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        'ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"',
        'ssl_policy        = "ELBSecurityPolicy-2016-08"',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"HTTPS from operators; the listener authenticates before forwarding."\n'
        '  cidr_ipv4         = "0.0.0.0/0"\n  ip_protocol       = "tcp"\n  from_port         = 443',
        '"HTTPS from operators; the listener authenticates before forwarding."\n'
        '  cidr_ipv4         = "0.0.0.0/0"\n  ip_protocol       = "tcp"\n  from_port         = 0',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"PostgreSQL from the code server (sensors read the instance)."\n'
        "  referenced_security_group_id = aws_security_group.code[0].id",
        '"PostgreSQL from the code server (sensors read the instance)."\n  cidr_ipv4 = "0.0.0.0/0"',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"gRPC from the daemon (sensor and schedule ticks)."\n  referenced_security_group_id = aws_security_group.daemon[0].id',
        '"gRPC from the daemon (sensor and schedule ticks)."\n  referenced_security_group_id = aws_security_group.alb[0].id',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"PostgreSQL from the code server (sensors read the instance)."\n'
        "  referenced_security_group_id = aws_security_group.code[0].id",
        '"PostgreSQL from the code server (sensors read the instance)."\n'
        "  referenced_security_group_id = aws_security_group.alb[0].id",
    ),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        'sid       = "StartRunTasks"\n    actions   = ["ecs:RunTask"]',
        'sid       = "StartRunTasks"\n    actions   = ["ecs:*"]',
    ),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        'aws_iam_role.execution["run"].arn,',
        '"arn:aws:iam::123456789012:role/*",',
    ),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        'actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]\n'
        "    resources = [aws_ecr_repository.this.arn]",
        'actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]\n'
        '    resources = ["*"]',
    ),
    ("check_no_wildcard_actions", "modules/alerts/main.tf", '"kms:UpdateKeyDescription",', '"kms:*",'),
    (
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        "resources = [var.alert_topic_arn]",
        'resources = ["arn:aws:sns:${data.aws_region.current.region}:${local.account_id}:*"]',
    ),
    (
        "check_dagster_role_actions",
        "modules/iam/main.tf",
        'actions   = ["sns:Publish"]',
        'actions   = ["sns:Publish", "sns:Subscribe"]',
    ),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, original: str, replacement: str) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited))


# The small profile's careless edits, each caught on Stack(copy, "small").
SMALL_CARELESS_EDITS = [
    # Nothing reachable without authentication: no load balancer, no port, loopback only.
    (
        "check_webserver_behind_login",
        "deploy/small-task.sh",
        "dagster-webserver --host 127.0.0.1",
        "dagster-webserver --host 0.0.0.0",
    ),
    (
        "check_webserver_behind_login",
        "deploy/small-task.sh",
        "code-server start --host 127.0.0.1",
        "code-server start --host 0.0.0.0",
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/ecs.tf",
        "    dagster   = []\n",
        "    dagster   = [local.webserver_port]\n",
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/alb.tf",
        '  count                      = local.standard ? 1 : 0\n  name                       = "${local.name}-ui"',
        '  name                       = "${local.name}-ui"',
    ),
    (
        "check_webserver_behind_login",
        "modules/dagster/ecs.tf",
        "enable_execute_command             = true",
        "enable_execute_command             = false",
    ),
    # No inbound from anywhere; the database from the task's group only.
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        'resource "aws_vpc_security_group_ingress_rule" "database_from_task" {',
        'resource "aws_vpc_security_group_ingress_rule" "ui" {\n  count             = local.small ? 1 : 0\n'
        '  security_group_id = aws_security_group.task[0].id\n  cidr_ipv4         = "0.0.0.0/0"\n'
        '  ip_protocol       = "tcp"\n  from_port         = 3000\n  to_port           = 3000\n}\n\n'
        'resource "aws_vpc_security_group_ingress_rule" "database_from_task" {',
    ),
    (
        "check_security_groups",
        "modules/dagster/network.tf",
        '"PostgreSQL from Dagster\'s one task."\n  referenced_security_group_id = aws_security_group.task[0].id',
        '"PostgreSQL from Dagster\'s one task."\n  cidr_ipv4                    = "10.0.0.0/8"',
    ),
    # No wildcard action; "*" resources only for actions that have no resource type.
    ("check_no_wildcard_actions", "modules/dagster/iam.tf", '"ssmmessages:OpenDataChannel",', '"ssmmessages:*",'),
    (
        "check_no_wildcard_actions",
        "modules/dagster/iam.tf",
        '"ssmmessages:CreateControlChannel",',
        '"ssmmessages:CreateControlChannel",\n      "ecs:ExecuteCommand",',
    ),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), SMALL_CARELESS_EDITS)
def test_a_careless_edit_of_the_small_profile_is_caught(
    tmp_path: Path, check: str, relative: str, original: str, replacement: str
) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited, "small"))
