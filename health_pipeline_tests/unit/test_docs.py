"""The documentation holds together: every relative link and anchor resolves, every repository path a
code span names exists, every page under docs/ is reachable from the README, the README stays short,
no page speaks of measurement history, and benchmark figures live in docs/benchmarks.md alone."""

from __future__ import annotations

import re
import subprocess
from collections import deque
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BENCHMARKS = DOCS / "benchmarks.md"

HISTORY_PHRASES = (
    "earlier run",
    "former",
    "measured side by side",
    "before/after",
    "the seed",
    "this session",
    "last session",
    "previously",
)

README_MAX_LINES = 200

LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# What a code span's word must start with or end in to be read as a path of this repository.
PATH_ROOTS = ("health_pipeline/", "health_pipeline_tests/", "terraform/", "deploy/", "scripts/", "docs/", "benchmarks/")
PATH_SUFFIXES = (".py", ".tf", ".sql", ".yaml", ".yml", ".md", ".sh")
# Not paths of this repository: placeholders, globs, variables, URLs, absolute and home paths, options.
NOT_A_PATH = re.compile(r"[<>*{}$~=\\'\"|]|://|^/|^\.\.?/|^-")
# Paths the docs name on purpose that are not in this repository, and whose they are.
ELSEWHERE = {
    "docs/resources/s3tables_table.md": "hashicorp/terraform-provider-awscc's documentation",
    "terraform/envs/prod/terraform.tfvars": "the operator's, copied from terraform.tfvars.example (git-ignored)",
}
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)


def markdown_files() -> list[Path]:
    files = [README, *sorted(DOCS.rglob("*.md")), *sorted((ROOT / "terraform").rglob("README.md"))]
    return [path for path in files if ".terraform" not in path.parts]


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(match["title"])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[str, Path, str]]:
    """(the link as written, the file it names, its anchor) for every relative link in the page."""
    found = []
    for match in LINK.finditer(prose(path.read_text(encoding="utf-8"))):
        target = match["target"].strip("<>")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        resolved = path if not file_part else (path.parent / file_part).resolve()
        found.append((target, resolved, anchor))
    return found


@pytest.mark.parametrize("page", markdown_files(), ids=relative)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for written, target, anchor in links(page):
        if not target.exists():
            broken.append(f"{written}: no file {target}")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{written}: {relative(target)} has no heading with the anchor #{anchor}")
    assert not broken, f"{relative(page)} has broken links:\n" + "\n".join(broken)


def named_paths(path: Path) -> set[str]:
    """The words of the page's code spans (outside fenced blocks) that look like repository paths:
    under one of PATH_ROOTS or ending in one of PATH_SUFFIXES; a pytest node id counts as its file."""
    found = set()
    for span in CODE_SPAN.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))):
        for word in span.group(1).split():
            word = word.split("::")[0].rstrip(".,;:)")
            if word in PATH_SUFFIXES:  # a kind of file (`.tf`), not a file
                continue
            if not NOT_A_PATH.search(word) and (word.startswith(PATH_ROOTS) or word.endswith(PATH_SUFFIXES)):
                found.add(word)
    return found


@cache
def repository_paths() -> frozenset[str]:
    """Every file git tracks or would add (not ignored), and every folder holding one."""
    done = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (
        f"`git ls-files` failed in {ROOT} ({done.stderr.strip()}): the docs' paths are checked against git's"
        " list of the repository's files, so run the tests in a git checkout"
    )
    # A file deleted but not yet committed is gone.
    files = [name for name in done.stdout.splitlines() if (ROOT / name).exists()]
    return frozenset(files) | {parent.as_posix() for name in files for parent in Path(name).parents[:-1]}


def names_a_repository_path(word: str) -> bool:
    """A word under PATH_ROOTS is a path from the repository's root; any other (`settings.py`,
    `modules/glue/main.tf`) must be the end of one."""
    word = word.rstrip("/")
    if word.startswith(PATH_ROOTS):
        return word in repository_paths()
    return any(path == word or path.endswith("/" + word) for path in repository_paths())


@pytest.mark.parametrize("page", markdown_files(), ids=relative)
def test_every_path_a_code_span_names_exists(page: Path) -> None:
    missing = sorted(word for word in named_paths(page) - set(ELSEWHERE) if not names_a_repository_path(word))
    assert not missing, (
        f"{relative(page)} names paths that are not in the repository: {missing}; write the file's current path"
    )


def test_every_path_named_elsewhere_is_still_named() -> None:
    named = set().union(*map(named_paths, markdown_files()))
    assert set(ELSEWHERE) <= named, f"no page names {sorted(set(ELSEWHERE) - named)}: drop it from ELSEWHERE"


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    reached = {README}
    queue = deque([README])
    while queue:
        page = queue.popleft()
        for _, target, _ in links(page):
            if target.suffix == ".md" and target.is_file() and target not in reached:
                reached.add(target)
                queue.append(target)
    unreached = [relative(page) for page in sorted(DOCS.rglob("*.md")) if page not in reached]
    assert not unreached, f"no chain of links from README.md reaches: {unreached}; link them from docs/index.md"


def test_the_readme_stays_a_front_door() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/ (limit {README_MAX_LINES})"


@pytest.mark.parametrize("page", markdown_files(), ids=relative)
def test_no_page_speaks_of_measurement_history(page: Path) -> None:
    text = page.read_text(encoding="utf-8").lower()
    found = [
        f"line {text.count(chr(10), 0, match.start()) + 1}: {phrase!r}"
        for phrase in HISTORY_PHRASES
        for match in re.finditer(r"\b" + re.escape(phrase), text)
    ]
    assert not found, (
        f"{relative(page)} speaks of history ({', '.join(found)}); say what is, and put run figures in commit messages"
    )


def bench_keys() -> set[str]:
    """Every key docs/benchmarks.md names in the first column of its tables."""
    keys = set()
    for line in BENCHMARKS.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            keys.update(re.findall(r"`([a-z][a-z0-9_]+)`", line.split("|")[1]))
    return keys


def test_benchmarks_name_the_design_keys() -> None:
    design_keys = {"scan_days", "aggregate_vs_duckdb", "ingest_vs_arrow", "ingest_records_per_s", "sensor_tick_ms"}
    design_keys |= {"summary_peak_rss_mb", "athena_polls_per_query", "athena_detect_delay_ratio"}
    design_keys |= {"lambda_cold_import_ms", "lambda_zip_bytes", "ingest_aged_vs_new", "backfill_queries"}
    design_keys |= {"backfill_30_days_vs_single_runs", "athena_result_calls_1m", "athena_result_rows_per_s"}
    design_keys |= {"estimate_vs_scanned", "erase_seconds"}
    assert design_keys <= bench_keys(), f"docs/benchmarks.md lacks {sorted(design_keys - bench_keys())}"


@pytest.mark.parametrize("page", [p for p in markdown_files() if p != BENCHMARKS], ids=relative)
def test_benchmark_figures_live_only_in_benchmarks_md(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    keys = "|".join(sorted(map(re.escape, bench_keys()), key=len, reverse=True))
    # A key, then within a few characters of punctuation a number: "`scan_days` 1.054", "sensor_tick_ms: 75".
    figure = re.compile(rf"\b({keys})\b`?[\s:=(]{{0,3}}~?\d")
    found = [match.group(0) for match in figure.finditer(text)]
    assert not found, f"{relative(page)} states benchmark figures {found}; they belong in docs/benchmarks.md only"


def test_the_tfvars_example_sets_every_variable_without_a_default_and_no_secret() -> None:
    import hcl2

    prod = ROOT / "terraform" / "envs" / "prod"
    with (prod / "variables.tf").open(encoding="utf-8") as handle:
        variables = {name.strip('"'): body for block in hcl2.load(handle)["variable"] for name, body in block.items()}
    with (prod / "terraform.tfvars.example").open(encoding="utf-8") as handle:
        example = {name for name in hcl2.load(handle) if not name.startswith("__")}
    required = {name for name, body in variables.items() if "default" not in body and not body.get("sensitive")}
    secret = {name for name, body in variables.items() if body.get("sensitive")}
    assert required <= example, f"terraform.tfvars.example lacks {sorted(required - example)}"
    assert not secret & example, f"terraform.tfvars.example sets secrets {sorted(secret & example)}: use TF_VAR_ only"
    assert example <= set(variables), (
        f"terraform.tfvars.example sets unknown variables {sorted(example - set(variables))}"
    )


@pytest.mark.parametrize(
    "module", sorted(p.parent for p in (ROOT / "terraform").glob("*/*/variables.tf")), ids=lambda p: p.name
)
def test_each_module_readme_names_every_input_and_output(module: Path) -> None:
    """A module's README is its interface: every variable and output of the module appears in it."""
    import hcl2

    readme = (module / "README.md").read_text(encoding="utf-8")
    names = []
    for kind, file in (("variable", "variables.tf"), ("output", "outputs.tf")):
        if (module / file).exists():
            for block in hcl2.loads((module / file).read_text(encoding="utf-8")).get(kind, []):
                names += [name.strip('"') for name in block]
    missing = [name for name in names if f"`{name}`" not in readme]
    assert names and not missing, f"{module.name}/README.md does not name: {missing}"
