"""The code location as Dagster and an operator see it."""

import ast
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from health_pipeline.settings import PROJECT_ROOT

DAGSTER = str(Path(sys.executable).parent / "dagster")


@pytest.mark.parametrize("mode", ["local", "aws"])
def test_dagster_definitions_validate_passes_without_io_or_deprecation(cli_env, settings, mode):
    # aws: no endpoint or credentials reachable here, so any AWS call at load time would fail it.
    env = {
        **cli_env,
        "PYTHONWARNINGS": "always::DeprecationWarning",
        "HEALTH_PIPELINE_MODE": mode,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "none",
        "AWS_SECRET_ACCESS_KEY": "none",
    }
    result = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    project_warnings = [
        line for line in result.stderr.splitlines() if "DeprecationWarning" in line and "health_pipeline" in line
    ]
    assert not project_warnings, project_warnings
    assert not settings.home.exists(), "loading the code location must not create local state"


def test_loading_the_code_location_prints_no_dagster_beta_or_preview_warning(settings):
    """What `make demo`, `dg dev` and every run's process would print to a newcomer: the two features
    used on purpose are silenced in build_definitions, nothing else is."""
    import dagster as dg

    from health_pipeline.definitions import build_definitions

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_definitions(settings)
    shown = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, (dg.BetaWarning, dg.PreviewWarning))
    ]
    assert not shown, shown


def test_the_definitions_hold_the_designs_names():
    from health_pipeline.definitions import defs

    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys >= {"health_records", "iceberg_schema", "daily_health_summary", "daily_summary_csv"}
    schedule = defs.get_schedule_def("daily_summary_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    assert schedule.execution_timezone == "Asia/Tokyo"
    summary = defs.get_assets_def("daily_health_summary")
    partitions = summary.partitions_def
    assert partitions.timezone == "Asia/Tokyo"
    for node in repository.asset_graph.asset_nodes:  # what an operator reads on each asset's page
        spec = node.to_asset_spec()
        assert len(spec.description or "") > 80 and spec.owners and spec.group_name and spec.kinds, spec.key


def test_the_schedule_targets_the_day_before_in_tokyo():
    import dagster as dg

    from health_pipeline.definitions import defs

    schedule = defs.get_schedule_def("daily_summary_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=_tokyo(2026, 11, 21, 1, 0))
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-11-20"]


def _tokyo(*parts):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(*parts, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_every_step_that_runs_a_query_is_in_the_athena_pool_and_aws_mode_loads(tmp_path):
    """A month's backfill must not exceed Athena's active-query quota: every asset and check that
    queries the table shares pool "athena". The aws mode loads the same graph with the AWS resources."""
    from health_pipeline.definitions import build_definitions, defs
    from health_pipeline.settings import Settings

    assert defs.get_assets_def("daily_health_summary").node_def.pool == "athena"
    for check in defs.asset_checks:
        queries = not check.node_def.name.endswith("one_row_per_user")  # that one reads the kept rows only
        assert (check.node_def.pool == "athena") is queries, check.node_def.name
    aws = build_definitions(Settings(mode="aws", home=tmp_path))
    assert {name: type(resource).__name__ for name, resource in aws.resources.items()} == {
        "stack": "AwsStack"}  # fmt: skip
    summary = next(iter(aws.get_assets_def("daily_health_summary").specs))
    exported = next(iter(aws.get_assets_def("daily_summary_csv").specs))
    assert set(summary.kinds) == {"athena", "sql"} and set(exported.kinds) == {"csv", "s3"}
    assert (
        aws.get_repository_def().asset_graph.get_all_asset_keys()
        == defs.get_repository_def().asset_graph.get_all_asset_keys()
    )


def _imports(path: Path, package_root: Path) -> set[str]:
    """The health_pipeline modules `path` imports, at its top or inside functions, but not the ones
    only a type checker sees (under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:  # `from package import module`
                candidate = package_root.parent / f"{node.module}.{alias.name}".replace(".", "/")
                if candidate.with_suffix(".py").exists() or candidate.is_dir():
                    found.add(f"{node.module}.{alias.name}")
    return {name for name in found if name == "health_pipeline" or name.startswith("health_pipeline.")}


def test_no_module_of_health_pipeline_imports_itself_back():
    """No import cycle anywhere in the package: a module never depends, through any chain of imports
    (lazy ones included), on a module that depends on it."""
    root = PROJECT_ROOT / "health_pipeline"
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {name: _imports(path, root) & modules.keys() for name, path in modules.items()}
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        for target in sorted(graph[name]):
            if target in trail:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in done:
                visit(target, [*trail, target])
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert len(graph) > 30 and any(graph.values())  # the walk saw the package
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles[:5])


def test_the_mode_is_compared_in_stack_for_only():
    """Which implementation serves is one decision (engines.stack_for); settings.py only validates
    the environment per mode (the design's per-mode defaults); preflight, a check of a live AWS account,
    refuses to run in local mode (it chooses no implementation). A mode test anywhere else fails here."""
    allowed = {
        ("health_pipeline/engines/__init__.py", "stack_for"),
        ("health_pipeline/settings.py", "__post_init__"),
        ("health_pipeline/preflight/context.py", "__init__"),
    }
    found = set()
    for path in (PROJECT_ROOT / "health_pipeline").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        enclosing = {}
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    enclosing.setdefault(id(node), function.name) if node is function else enclosing.update(
                        {id(node): function.name}
                    )
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Constant) and side.value in ("aws", "local")
                for side in [node.left, *node.comparators]
            ):
                found.add((path.relative_to(PROJECT_ROOT).as_posix(), enclosing.get(id(node), "<module>")))
    assert found <= allowed, f"the mode is compared outside stack_for: {sorted(found - allowed)}"
    assert ("health_pipeline/engines/__init__.py", "stack_for") in found


def test_dg_check_defs_loads_the_project(tmp_path):
    """Dagster's project CLI ([tool.dg] in pyproject.toml) finds and validates the code location."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env.update(HEALTH_PIPELINE_HOME=str(tmp_path / "home"), VIRTUAL_ENV=str(Path(sys.executable).parent.parent))
    dg = str(Path(sys.executable).parent / "dg")
    checked = subprocess.run(
        [dg, "check", "defs"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = subprocess.run(
        [dg, "list", "defs", "--json"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr
    assert "daily_summary_csv" in listed.stdout and "new_data_sensor" in listed.stdout
    assert not (tmp_path / "home").exists()  # loading the code location created nothing
