"""The operators' Dagster (modules/dagster) and deploy/: the database and its password, deploy/'s
configuration against the task definitions, the tasks' settings, the idle cost, the run launcher."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest
import yaml

from health_pipeline.schema.terraform import _unquote
from health_pipeline_tests.support.dockerfile import DOCKERFILE, dockerfile_instructions
from health_pipeline_tests.support.terraform_hcl import (
    PROFILES,
    ROLE_OUTPUT,
    TERRAFORM_DIR,
    Stack,
    block,
    collect,
    container_definitions,
    copy,
    each,
    edited_copy,
    everywhere,
    for_each_keys,
    modules,
    named_ref,
    prod_output_values,
    profile_of,
    text,
)

PASSWORD_LIKE = re.compile(r"PASSW|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY", re.IGNORECASE)

# What would put the database password itself (not the secret's ARN) into the environment or state.
PASSWORD_VALUE = re.compile(r"\.password\b|master_user_secret|secret_string|aws_secretsmanager_secret_version")


def check_database_private_and_guarded(stack: Stack) -> None:
    instances = everywhere(stack, "resource", "aws_db_instance")
    assert instances, "no RDS instance for the Dagster instance"
    for module, name, db in instances:
        where = f"modules/{module}: aws_db_instance.{name}"
        assert stack.value(module, db.get("publicly_accessible")) is False, (
            f"{where} must set publicly_accessible = false"
        )
        assert stack.value(module, db.get("storage_encrypted")) is True, f"{where} is not encrypted"
        assert stack.value(module, db.get("deletion_protection")) is True, f"{where} lacks deletion_protection = true"
        assert stack.value(module, db.get("skip_final_snapshot")) is False, (
            f"{where} would be destroyed without a final snapshot"
        )
        backups = stack.value(module, db.get("backup_retention_period", 0))
        assert isinstance(backups, int) and backups >= 1, f"{where}: backup_retention_period is {backups!r}"
        subnets = stack.resource(
            module, "aws_db_subnet_group", named_ref(db["db_subnet_group_name"], "aws_db_subnet_group")
        )
        assert text(subnets["subnet_ids"]) == "${var.private_subnet_ids}", (
            f"{where}: subnet group {subnets['subnet_ids']} is not the private subnets"
        )
        wired = text(stack.call_args(module).get("private_subnet_ids", "")) if module else ""
        assert "private" in wired, f"{where}: envs/prod gives private_subnet_ids = {wired!r}"


def check_db_password_only_as_secret(stack: Stack) -> None:
    """RDS manages the password; every container gets it as the secret DAGSTER_PG_PASSWORD (the key
    `password` of the RDS-managed secret), the name deploy/dagster.yaml reads; no environment entry,
    output or state copy of it anywhere."""
    instance = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))
    password_env = instance["storage"]["postgres"]["postgres_db"]["password"]["env"]
    for module in modules(stack):
        for kind in ("resource", "data"):
            assert not stack.typed(module, kind, "aws_secretsmanager_secret_version"), (
                f"{module or 'envs/prod'}: a {kind} aws_secretsmanager_secret_version copies a secret into the state"
            )
        for name, db in stack.typed(module, "resource", "aws_db_instance").items():
            assert db.get("manage_master_user_password") is True, (
                f"aws_db_instance.{name}: RDS must manage the password"
            )
            assert not {"password", "password_wo"} & set(db), f"aws_db_instance.{name} sets a password itself"
        for name, output in stack.named(module, "output").items():
            assert not re.search(r"\.password\b|secret_string", text(output["value"])), (
                f"output {name} exposes the password"
            )
    definitions = container_definitions(stack, "dagster")
    expected = {"standard": {"webserver", "daemon", "code", "run"}, "small": {"dagster"}}[profile_of(stack)]
    assert {key.split("[")[1].rstrip("]") for key in definitions} == expected, f"task definitions {sorted(definitions)}"
    for where, containers in definitions.items():
        for container in containers:
            secrets = each(stack, "dagster", container.get("secrets", "[]"), container["__key__"])
            passwords = [s for s in secrets or [] if isinstance(s, dict) and _unquote(s["name"]) == password_env]
            assert len(passwords) == 1, f"{where}: no secret {password_env} (dagster.yaml's postgres password)"
            value_from = _unquote(passwords[0]["valueFrom"])
            assert re.fullmatch(
                r"\$\{aws_db_instance\.\w+\.master_user_secret\[0\]\.secret_arn\}:password::", value_from
            ), f"{where}: {password_env} comes from {value_from!r}, not the RDS-managed secret's password key"
            names, environment_text = collect(stack, "dagster", container.get("environment"), set())
            suspicious = sorted(n for n in names if PASSWORD_LIKE.search(n))
            assert not suspicious, f"{where}: environment names {suspicious} look like secrets: pass them as `secrets`"
            assert not PASSWORD_VALUE.search(environment_text), (
                f"{where}: the environment refers to the password itself"
            )


def _image_paths(stack: Stack, source: str) -> set[str]:
    """Where the Dockerfile copies `source` (a file of the repository) in the image."""
    steps = dockerfile_instructions(stack.deploy / DOCKERFILE.name)
    workdir = next(args for op, args in steps if op == "WORKDIR")
    return {
        posixpath.normpath(posixpath.join(workdir, args.split()[-1]))
        for op, args in steps
        if op == "COPY" and args.split()[0] == source
    }


# What deploy/dagster-small.yaml may set differently from deploy/dagster.yaml: no run launcher (the
# default: runs are subprocesses of the small task's code server), fewer runs at once, and a longest
# run (the default launcher cannot see a run that died with its task).
SMALL_INSTANCE_DIFFERENCES = {
    ("run_launcher",),
    ("concurrency", "runs", "max_concurrent_runs"),
    ("run_monitoring", "max_runtime_seconds"),
}


def _without(config: dict, paths: set[tuple[str, ...]]) -> dict:
    config = json.loads(json.dumps(config))
    for path in paths:
        node = config
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    return config


def _check_small_deploy_config(stack: Stack) -> None:
    standard = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))
    small = yaml.safe_load((stack.deploy / "dagster-small.yaml").read_text(encoding="utf-8"))
    assert "run_launcher" not in small, "the small task's runs are its own subprocesses: no run_launcher"
    runs = small["concurrency"]["runs"]["max_concurrent_runs"]
    assert isinstance(runs, int) and 1 <= runs <= 2, f"the small task's memory holds 1-2 runs, not {runs!r}"
    longest = small["run_monitoring"].get("max_runtime_seconds")
    assert isinstance(longest, int) and longest > 0, "a run that died with the task would hold the run slot forever"
    assert _without(small, SMALL_INSTANCE_DIFFERENCES) == _without(standard, SMALL_INSTANCE_DIFFERENCES), (
        "deploy/dagster-small.yaml and deploy/dagster.yaml differ beyond the run launcher and max_concurrent_runs"
    )
    environment = stack.locals("dagster")["task_environment"]["dagster"]
    home = stack.value("dagster", environment.get("DAGSTER_HOME"))
    assert f"{home}/dagster.yaml" in _image_paths(stack, "deploy/dagster-small.yaml"), (
        f"the small task's DAGSTER_HOME {home!r} does not hold deploy/dagster-small.yaml in the image"
    )
    command = [stack.value("dagster", part) for part in stack.locals("dagster")["commands"]["dagster"]]
    assert command[-1] in _image_paths(stack, "deploy/small-task.sh"), (
        f"the small task runs {command[-1]!r}, where the image has no deploy/small-task.sh"
    )
    runtime = block(stack.resource("dagster", "aws_ecs_task_definition", "this"), "runtime_platform")
    assert stack.value("dagster", runtime["cpu_architecture"]) == "ARM64", "the small task runs on ARM64 (Graviton)"


def check_deploy_config_matches(stack: Stack) -> None:
    """deploy/ (baked into the image) and modules/dagster agree. standard: the run task definition and
    its container, the PostgreSQL variables, the code server's address and the workspace's path.
    small: deploy/dagster-small.yaml is deploy/dagster.yaml but for the run launcher and the runs at
    once, and the task's DAGSTER_HOME and script are where the image has them."""
    if profile_of(stack) == "small":
        _check_small_deploy_config(stack)
        return
    instance = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))
    launcher = instance["run_launcher"]["config"]
    run_env = launcher["task_definition"]["env"]
    definitions = stack.typed("dagster", "resource", "aws_ecs_task_definition")
    (definition,) = definitions.values()
    run_family = stack.value("dagster", "${local.run_family}")
    assert each(stack, "dagster", definition["family"], "run") == run_family, "the run task definition's family"
    task_environment = stack.locals("dagster")["task_environment"]
    for component in ("webserver", "daemon"):
        value = stack.value("dagster", task_environment[component].get(run_env))
        assert value == run_family, f"the {component} sets {run_env}={value!r}, not {run_family!r}"
    assert launcher["container_name"] == stack.value("dagster", "${local.container_name}")
    assert launcher.get("secrets_tag", "dagster") is None, "secrets_tag would need secretsmanager:ListSecrets"
    assert not launcher.get("env_vars"), "env_vars must each be set in the daemon: the run task definition has them"
    run_size = stack.value("dagster", "${var.task_sizes}")["run"]
    resources = launcher["run_resources"]
    assert (int(resources["cpu"]), int(resources["memory"])) == (run_size["cpu"], run_size["memory"])
    database = instance["storage"]["postgres"]["postgres_db"]
    read = {v["env"] for key, v in database.items() if isinstance(v, dict) and "env" in v and key != "password"}
    assert read == set(stack.locals("dagster")["database_environment"]), f"dagster.yaml reads {sorted(read)}"
    # The code server's address (Cloud Map) and port, and the workspace file the services are given.
    grpc = yaml.safe_load((stack.deploy / "workspace.yaml").read_text(encoding="utf-8"))["load_from"][0]["grpc_server"]
    namespace = stack.value(
        "dagster", stack.resource("dagster", "aws_service_discovery_private_dns_namespace", "this")["name"]
    )
    service = stack.value("dagster", stack.resource("dagster", "aws_service_discovery_service", "code")["name"])
    assert grpc["host"] == f"{service}.{namespace}", (
        f"workspace.yaml reaches {grpc['host']}, Terraform names {service}.{namespace}"
    )
    assert grpc["port"] == stack.value("dagster", "${local.code_port}")
    steps = dockerfile_instructions(stack.deploy / DOCKERFILE.name)
    workdir = next(args for op, args in steps if op == "WORKDIR")
    copied = {
        posixpath.normpath(posixpath.join(workdir, args.split()[-1]))
        for op, args in steps
        if op == "COPY" and args.split()[0] == "deploy/workspace.yaml"
    }
    workspace = stack.value("dagster", "${local.workspace}")
    assert workspace in copied, (
        f"the services read {workspace}; the image has deploy/workspace.yaml at {sorted(copied)}"
    )
    for component in ("webserver", "daemon"):
        command = [stack.value("dagster", part) for part in stack.locals("dagster")["commands"][component]]
        assert command[command.index("--workspace") + 1] == workspace, f"the {component} is given another workspace"


def check_dagster_settings(stack: Stack) -> None:
    """The tasks get the aws mode and exactly the values envs/prod outputs as the settings."""
    environment = stack.call_args("dagster")["environment"]
    assert stack.value(None, environment["HEALTH_PIPELINE_MODE"]) == "aws"
    for name, value in prod_output_values(stack).items():
        if name != ROLE_OUTPUT:
            assert stack.value(None, environment.get(name.upper())) == value, (
                f"the tasks' {name.upper()} is not the output's"
            )
    assert _unquote(stack.call_args("dagster")["pipeline_role_arn"]) == "${module.iam.role_arn}", (
        "runs act as the pipeline role"
    )
    # The profile: envs/prod's dagster_profile, validated to the two the module knows.
    assert text(stack.call_args("dagster").get("profile")) == "${var.dagster_profile}", "envs/prod sets no profile"
    for module, name in ((None, "dagster_profile"), ("dagster", "profile")):
        variable = stack.named(module, "variable")[name]
        condition = text(block(variable, "validation")["condition"])
        assert re.fullmatch(rf'\$\{{contains\(\["standard", "small"\], var\.{name}\)\}}', condition), (
            f"{module or 'envs/prod'}: var.{name} accepts {condition}"
        )
        assert stack.value(module, variable["default"]) == "standard", f"var.{name}'s default is not standard"


# Fargate's CPU units and the memory (MiB) each takes (Linux; "Task size" in the ECS developer guide).
FARGATE_MEMORY = {
    256: {512, 1024, 2048},
    512: {1024 * n for n in range(1, 5)},
    1024: {1024 * n for n in range(2, 9)},
    2048: {1024 * n for n in range(4, 17)},
    4096: {1024 * n for n in range(8, 31)},
}


def check_idle_cost(stack: Stack) -> None:
    """The profile's idle month at on-demand list prices (health_pipeline_tests/support/idle_cost.py) stays in
    its budget: small <= USD 40, standard <= USD 140; every task is a size Fargate offers."""
    from health_pipeline_tests.support.idle_cost import BUDGET_USD, idle_cost

    sizes = stack.value("dagster", "${var.task_sizes}")
    for component in for_each_keys(stack, "dagster", stack.resource("dagster", "aws_ecs_task_definition", "this")):
        cpu, memory = sizes[component]["cpu"], sizes[component]["memory"]
        assert memory in FARGATE_MEMORY.get(cpu, set()), f"{component}: Fargate has no {cpu} CPU / {memory} MiB task"
    profile = profile_of(stack)
    items = idle_cost(stack)
    total = sum(item.usd for item in items)
    assert total <= BUDGET_USD[profile], (
        f"the {profile} profile idles at USD {total:.2f} a month, over its USD {BUDGET_USD[profile]:.0f}: "
        + "; ".join(f"{item.what} {item.usd:.2f}" for item in items)
    )


CHECKS = {
    check.__name__: check
    for check in (
        check_database_private_and_guarded,
        check_db_password_only_as_secret,
        check_deploy_config_matches,
        check_dagster_settings,
        check_idle_cost,
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
        "check_idle_cost",
        "modules/dagster/variables.tf",
        "webserver = { cpu = 512, memory = 1024 }",
        "webserver = { cpu = 1024, memory = 2048 }",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "publicly_accessible    = false",
        "publicly_accessible    = true",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "storage_encrypted     = true",
        "storage_encrypted     = false",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "deletion_protection             = true",
        "deletion_protection             = false",
    ),
    ("check_database_private_and_guarded", "modules/dagster/variables.tf", "default     = 7", "default     = 0"),
    ("check_db_password_only_as_secret", "modules/dagster/ecs.tf", ":password::", ":username::"),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "environment  = local.environment[each.key]",
        'environment  = [{ name = "PGPASSWORD", value = "x" }]',
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.db_name",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.db_name\n    DAGSTER_PG_PASSWORD = var.oidc_client_secret",
    ),
    (
        "check_db_password_only_as_secret",
        "envs/prod/main.tf",
        'HEALTH_PIPELINE_MODE             = "aws"',
        'HEALTH_PIPELINE_MODE             = "aws"\n    DB_PASSWORD = "hunter2"',
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.db_name",
        "DAGSTER_PG_DB       = aws_db_instance.dagster.master_user_secret[0].secret_arn",
    ),
    (
        "check_db_password_only_as_secret",
        "deploy/dagster.yaml",
        "        env: DAGSTER_PG_PASSWORD",
        "        env: DAGSTER_PG_PASS",
    ),
    (
        "check_deploy_config_matches",
        "modules/dagster/main.tf",
        'name  = "${local.name}-code"',
        'name  = "${local.name}-grpc"',
    ),
    (
        "check_deploy_config_matches",
        "deploy/dagster.yaml",
        "env: DAGSTER_RUN_TASK_DEFINITION",
        "env: RUN_TASK_DEFINITION",
    ),
    ("check_deploy_config_matches", "deploy/Dockerfile", "COPY deploy/workspace.yaml", "COPY workspace.yaml"),
    ("check_deploy_config_matches", "deploy/dagster.yaml", "    secrets_tag: null\n", ""),
    (
        "check_dagster_settings",
        "envs/prod/main.tf",
        "HEALTH_PIPELINE_ALERT_TOPIC_ARN  = module.alerts.topic_arn",
        'HEALTH_PIPELINE_ALERT_TOPIC_ARN  = "arn:aws:sns:ap-northeast-1:123456789012:other"',
    ),
    (
        "check_dagster_settings",
        "envs/prod/main.tf",
        "HEALTH_PIPELINE_TABLE            = module.s3tables.table_name",
        'HEALTH_PIPELINE_TABLE            = "health_records_v2"',
    ),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, original: str, replacement: str) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited))


# The small profile's careless edits, each caught on Stack(copy, "small").
SMALL_CARELESS_EDITS = [
    # Its idle month within USD 40.
    (
        "check_idle_cost",
        "modules/dagster/variables.tf",
        "dagster   = { cpu = 256, memory = 2048 }",
        "dagster   = { cpu = 512, memory = 2048 }",
    ),
    (
        "check_idle_cost",
        "modules/dagster/variables.tf",
        "dagster   = { cpu = 256, memory = 2048 }",
        "dagster   = { cpu = 256, memory = 4096 }",
    ),
    ("check_idle_cost", "modules/dagster/main.tf", 'local.small ? "db.t4g.micro"', 'local.small ? "db.t4g.small"'),
    (
        "check_idle_cost",
        "modules/dagster/ecs.tf",
        'cpu_architecture        = local.small ? "ARM64" : "X86_64"',
        'cpu_architecture        = "X86_64"',
    ),
    # The database private and encrypted, its password only the RDS-managed secret.
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "publicly_accessible    = false",
        "publicly_accessible    = local.small",
    ),
    (
        "check_database_private_and_guarded",
        "modules/dagster/database.tf",
        "storage_encrypted     = true",
        "storage_encrypted     = local.standard",
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "    secrets      = local.secrets\n",
        "    secrets      = local.small ? [] : local.secrets\n",
    ),
    (
        "check_db_password_only_as_secret",
        "modules/dagster/ecs.tf",
        "dagster   = { DAGSTER_HOME = local.small_home,",
        "dagster   = { DAGSTER_PG_PASSWORD = var.oidc_client_secret, DAGSTER_HOME = local.small_home,",
    ),
    # deploy/ and the task agree.
    (
        "check_deploy_config_matches",
        "deploy/dagster-small.yaml",
        "        env: DAGSTER_PG_HOST",
        "        env: PG_HOST",
    ),
    (
        "check_deploy_config_matches",
        "modules/dagster/ecs.tf",
        'small_home = "/opt/dagster/home-small"',
        'small_home = "/opt/dagster/home"',
    ),
    (
        "check_deploy_config_matches",
        "deploy/Dockerfile",
        "COPY deploy/small-task.sh ./deploy/",
        "COPY deploy/small-task.sh ./",
    ),
    (
        "check_dagster_settings",
        "envs/prod/main.tf",
        "profile            = var.dagster_profile",
        'profile            = "standard"',
    ),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), SMALL_CARELESS_EDITS)
def test_a_careless_edit_of_the_small_profile_is_caught(
    tmp_path: Path, check: str, relative: str, original: str, replacement: str
) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited, "small"))


def test_the_run_launcher_starts_the_terraform_run_task_definition(stack: Stack, monkeypatch) -> None:
    """deploy/dagster.yaml's EcsRunLauncher, built as the daemon builds it (moto standing in for ECS),
    resolves the run task definition Terraform registers and the container it overrides."""
    from dagster._config import process_config
    from dagster_aws.ecs import EcsRunLauncher
    from moto import mock_aws

    config = yaml.safe_load((stack.deploy / "dagster.yaml").read_text(encoding="utf-8"))["run_launcher"]["config"]
    family = stack.value("dagster", "${local.run_family}")
    container = stack.value("dagster", "${local.container_name}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv(config["task_definition"]["env"], family)  # as the daemon's task definition sets it
    with mock_aws():
        import boto3

        boto3.client("ecs").register_task_definition(
            family=family,
            containerDefinitions=[{"name": container, "image": "health-pipeline:test"}],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="1024",
            memory="4096",
        )
        checked = process_config(EcsRunLauncher.config_type(), config)
        assert checked.success, checked.errors
        launcher = EcsRunLauncher(**checked.value)
        assert launcher.task_definition.endswith(f":task-definition/{family}:1")
        assert launcher.secrets_tags == [] and launcher.env_vars == []
