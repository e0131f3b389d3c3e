"""The code's map stays readable: modules by job and of a readable size, the core free of Dagster."""

import ast

from health_pipeline.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "health_pipeline"
MAX_MODULE_LINES = 350
# Modules whose one job takes more lines than the limit, with that job.
LONGER_FOR_ONE_JOB = {
    "health_pipeline/delivery/json_lines.py": "the bulk check of a block of lines: every vector rule beside the reference it mirrors",
}
CORE = ("schema", "engines", "sql", "delivery", "summary", "quality", "erasure", "alerts")


def test_no_module_is_longer_than_its_job_needs():
    long = {
        path.relative_to(PROJECT_ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    over = {name: lines for name, lines in long.items() if lines > MAX_MODULE_LINES and name not in LONGER_FOR_ONE_JOB}
    assert not over, (
        f"modules over {MAX_MODULE_LINES} lines: {over}; split them by job or say why in LONGER_FOR_ONE_JOB"
    )
    assert all(name in long for name in LONGER_FOR_ONE_JOB), "an allowance names a module that no longer exists"


def test_the_core_imports_no_dagster():
    """schema, engines, sql, delivery, summary and quality are plain Python: usable and testable
    without a Dagster context; defs/ is the layer that wires them."""
    offenders = []
    for package in CORE:
        for path in (PACKAGE / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                if any(name == "dagster" or name.startswith(("dagster.", "dagster_")) for name in names):
                    offenders.append(path.relative_to(PROJECT_ROOT).as_posix())
    assert not offenders, f"core modules importing Dagster: {sorted(set(offenders))}"


def test_the_code_location_never_imports_the_sandbox():
    """sandbox/ is development tooling (`make sandbox`, dev dependencies): the code location runs without it."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "sandbox" or name.startswith("sandbox.") for name in names):
                offenders.append(path.relative_to(PROJECT_ROOT).as_posix())
    assert not offenders, f"health_pipeline modules importing the sandbox: {sorted(set(offenders))}"
