#!/usr/bin/env python3
"""Rewrite the "## Inputs" and "## Outputs" tables of every Terraform README from the module's own
variables.tf and outputs.tf (names, types, defaults, descriptions), as terraform-docs would:

    .venv/bin/python scripts/terraform_readme_tables.py

Everything above "## Inputs" is kept as written. `health_pipeline_tests/unit/test_docs.py` fails when
a README misses a variable or an output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parent.parent


def _plain(value):
    """A value as python-hcl2 reads it, without the quotes it keeps around strings."""
    if isinstance(value, str):
        return value.strip('"')
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    return value


def _type(value) -> str:
    text = _plain(value) if isinstance(value, str) else json.dumps(value)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def _default(body: dict) -> str:
    if "default" not in body:
        return "required"
    value = _plain(body["default"])
    if value is None:
        return "null"
    return f"`{value if isinstance(value, str) else json.dumps(value)}`"


def _cell(text) -> str:
    return str(_plain(text) or "").replace("|", "/").replace("\n", " ")


def tables(module: Path) -> str:
    parts = ["## Inputs", "", "| input | type | default | meaning |", "|---|---|---|---|"]
    variables = module / "variables.tf"
    for block in hcl2.loads(variables.read_text()).get("variable", []) if variables.exists() else []:
        ((name, body),) = block.items()
        sensitive = " (sensitive)" if body.get("sensitive") else ""
        parts.append(
            f"| `{_plain(name)}` | {_type(body.get('type', 'any'))} | {_default(body)} |"
            f" {_cell(body.get('description'))}{sensitive} |"
        )
    parts += ["", "## Outputs", "", "| output | meaning |", "|---|---|"]
    outputs = module / "outputs.tf"
    for block in hcl2.loads(outputs.read_text()).get("output", []) if outputs.exists() else []:
        ((name, body),) = block.items()
        parts.append(f"| `{_plain(name)}` | {_cell(body.get('description'))} |")
    return "\n".join(parts) + "\n"


def main() -> int:
    for readme in sorted((ROOT / "terraform").glob("*/*/README.md")):
        text = readme.read_text()
        if "## Inputs" not in text:
            print(f"{readme.relative_to(ROOT)}: no '## Inputs' heading; add one, then run again", file=sys.stderr)
            return 1
        readme.write_text(text[: text.index("## Inputs")] + tables(readme.parent))
        print(readme.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
