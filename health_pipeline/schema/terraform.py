"""Reads the desired schema of the table from the Terraform Glue module (python-hcl2).

The Glue module is the single source of truth for the columns: nothing in Python repeats the list.
"""

from __future__ import annotations

from pathlib import Path

import hcl2

from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.types import normalize_glue_type


class TerraformSchemaError(ValueError):
    """The Glue module cannot be read or does not declare the table as expected."""


def _unquote(value: object) -> str:
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def read_desired_schema(glue_module_dir: Path, resource_name: str = "health_records") -> TableSchema:
    """The columns of `aws_glue_catalog_table.<resource_name>` in the module's .tf files, in order."""
    if not glue_module_dir.is_dir():
        raise TerraformSchemaError(
            f"Terraform Glue module not found at {glue_module_dir}; set HEALTH_PIPELINE_TERRAFORM_DIR to the"
            " directory that holds modules/glue."
        )
    for tf_file in sorted(glue_module_dir.glob("*.tf")):
        try:
            with tf_file.open(encoding="utf-8") as handle:
                document = hcl2.load(handle)
        except Exception as err:  # python-hcl2 raises lark errors of many kinds
            raise TerraformSchemaError(f"{tf_file}: not valid HCL ({err}); fix the file and run again.") from err
        for resource in document.get("resource", []):
            for kind, named in resource.items():
                if _unquote(kind) != "aws_glue_catalog_table":
                    continue
                for name, body in named.items():
                    if _unquote(name) == resource_name:
                        return _columns_of(tf_file, body)
    raise TerraformSchemaError(
        f"no resource aws_glue_catalog_table.{resource_name} in {glue_module_dir}/*.tf; the table's columns"
        " must be declared there."
    )


def _columns_of(tf_file: Path, body: dict) -> TableSchema:
    descriptors = body.get("storage_descriptor") or []
    columns: list[Column] = []
    for descriptor in descriptors:
        for block in descriptor.get("columns", []):
            name = _unquote(block.get("name", ""))
            type_text = _unquote(block.get("type", ""))
            if not name or not type_text:
                raise TerraformSchemaError(f"{tf_file}: a columns block lacks a name or a type: {block!r}")
            try:
                columns.append(Column(name, normalize_glue_type(type_text)))
            except ValueError as err:
                raise TerraformSchemaError(f"{tf_file}: column {name!r}: {err}") from err
    if not columns:
        raise TerraformSchemaError(f"{tf_file}: the Glue table declares no storage_descriptor columns")
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TerraformSchemaError(f"{tf_file}: columns declared twice: {', '.join(duplicates)}")
    return TableSchema(tuple(columns))
