"""The code's map stays readable: modules by job and of a readable size, the core free of Dagster."""

import ast
from pathlib import Path

from health_pipeline.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "health_pipeline"
MAX_MODULE_LINES = 350
# Modules whose one job takes more lines than the limit, with that job.
LONGER_FOR_ONE_JOB = {
    "health_pipeline/delivery/json_lines.py": "the bulk check of a block of lines: every vector rule beside the reference it mirrors",
}
CORE = ("schema", "engines", "sql", "delivery", "summary", "quality", "erasure", "alerts", "preflight")
# The core's modules outside those packages: the contract and what it and the stacks share.
CORE_MODULES = ("stack.py", "maintenance.py", "storage_fault.py", "athena_price.py", "row_filters.py", "identifiers.py")


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
    """schema, engines, sql, delivery, summary, quality, erasure, alerts and the contract (stack.py) are
    plain Python: usable and testable without a Dagster context; defs/ is the layer that wires them."""
    offenders = []
    core = [path for package in CORE for path in (PACKAGE / package).rglob("*.py")]
    for path in [*core, *(PACKAGE / name for name in CORE_MODULES)]:
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


# Modules that choose a stack (`engines.stack_for`) or reach one directly: the entry points. Every
# other module outside engines/ (the core and defs/) works through the contract in health_pipeline/stack.py.
ENTRY_POINTS = frozenset({"health_pipeline.definitions", "health_pipeline.cli", "health_pipeline.demo"})
STACKS = "health_pipeline.engines"


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, modules: set[str]) -> set[str]:
    """The modules of health_pipeline that `path` imports anywhere in it: at module level, inside
    functions and under TYPE_CHECKING; `from package import module` counts as the module."""

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(module for target in targets if (module := resolve(target)) is not None)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, name, set(paths)) for name, path in paths.items()}


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_module_takes_part_in_an_import_circle():
    """A circle (even one closed only under TYPE_CHECKING or inside a function) means two modules
    cannot be read, tested or moved apart; break it by passing what is needed, or a Protocol."""
    circles = import_circles(import_graph())
    assert not circles, "modules importing each other, directly or around a circle:\n" + "\n".join(
        " <-> ".join(circle) for circle in circles
    )


def test_the_core_and_defs_do_not_import_the_stacks():
    """Only engines/ and the entry points import from engines/: the core and defs/ reach a stack
    through the contract (health_pipeline/stack.py), so either stack serves them unchanged."""
    upward = {
        name: sorted(target for target in targets if target == STACKS or target.startswith(STACKS + "."))
        for name, targets in import_graph().items()
        if not (name == STACKS or name.startswith(STACKS + ".")) and name not in ENTRY_POINTS
    }
    upward = {name: targets for name, targets in upward.items() if targets}
    assert not upward, f"modules outside engines/ importing the stacks: {upward}"


def test_the_import_graph_sees_every_kind_of_import(tmp_path):
    """The graph's reader finds module-level, relative, `from package import module`, function-level
    and TYPE_CHECKING imports; a circle among them is reported."""
    (tmp_path / "health_pipeline" / "pkg").mkdir(parents=True)
    sources = {
        "pkg/__init__.py": "from . import a\n",
        "pkg/a.py": "def f():\n    from health_pipeline.pkg.b import g\n",
        "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import health_pipeline.pkg.c\n",
        "pkg/c.py": "from health_pipeline.pkg import a\n",
    }
    for relative, text in sources.items():
        (tmp_path / "health_pipeline" / relative).write_text(text, encoding="utf-8")
    modules = {"health_pipeline.pkg", "health_pipeline.pkg.a", "health_pipeline.pkg.b", "health_pipeline.pkg.c"}
    graph = {
        name: imported_modules(
            tmp_path / "health_pipeline" / (name.removeprefix("health_pipeline.").replace(".", "/") + ".py"),
            name,
            modules,
        )
        for name in sorted(modules - {"health_pipeline.pkg"})
    }
    graph["health_pipeline.pkg"] = imported_modules(
        tmp_path / "health_pipeline" / "pkg" / "__init__.py", "health_pipeline.pkg", modules
    )
    assert graph["health_pipeline.pkg"] == {"health_pipeline.pkg.a"}
    assert graph["health_pipeline.pkg.a"] == {"health_pipeline.pkg.b"}
    assert graph["health_pipeline.pkg.b"] == {"health_pipeline.pkg.c"}
    assert import_circles(graph) == [["health_pipeline.pkg.a", "health_pipeline.pkg.b", "health_pipeline.pkg.c"]]


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


def test_no_test_module_imports_another():
    """Tests share fixtures through a conftest and helpers through health_pipeline_tests/support only."""
    tests = PROJECT_ROOT / "health_pipeline_tests"
    kinds = tuple(f"health_pipeline_tests.{p.name}" for p in tests.iterdir() if p.is_dir() and p.name != "support")
    offenders = []
    for path in tests.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(kinds):
                offenders.append(f"{path.relative_to(PROJECT_ROOT).as_posix()}: {node.module}")
    assert not offenders, f"test modules importing test modules (move the shared part to support/): {offenders}"
