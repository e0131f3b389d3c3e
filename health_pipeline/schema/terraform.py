"""Reads the desired table from the Terraform (python-hcl2): its columns (`local.columns`) and its
partition spec and sort order (the awscc_s3tables_table's iceberg_metadata), all in the S3 Tables
module.

The Terraform is the single source of truth for both: nothing in Python repeats them. The columns are
a literal in the module's locals, which creates the table with them; no table is declared anywhere
else (the default catalog holds only a resource link to the namespace).
"""

from __future__ import annotations

import re
from pathlib import Path

from health_pipeline.schema.layout import PartitionField, SortField, TableLayout
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.types import normalize_glue_type

# How the awscc table names a partition or sort field's source column: by the Iceberg field id the
# module gives each column (`local.field_id["recorded_at"]`).
_SOURCE = re.compile(r'\$\{local\.field_id\["([a-z_][a-z0-9_]*)"\]\}')


class TerraformSchemaError(ValueError):
    """The S3 Tables module cannot be read or does not declare the table as expected."""


def _unquote(value: object) -> str:
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def read_desired_schema(s3tables_module_dir: Path, local_name: str = "columns") -> TableSchema:
    """The columns of `local.<local_name>` in the S3 Tables module's .tf files, in order: a literal list
    of `{ name = "...", type = "<Glue type>" }` objects."""
    if not s3tables_module_dir.is_dir():
        raise TerraformSchemaError(
            f"Terraform S3 Tables module not found at {s3tables_module_dir}; set HEALTH_PIPELINE_TERRAFORM_DIR to"
            " the directory that holds modules/s3tables."
        )
    for tf_file in sorted(s3tables_module_dir.glob("*.tf")):
        for block in _load(tf_file).get("locals", []):
            if local_name in block:
                return _columns_of(tf_file, block[local_name])
    raise TerraformSchemaError(
        f"no local.{local_name} in {s3tables_module_dir}/*.tf; the table's columns must be declared there as a"
        ' literal list of { name = "...", type = "..." } objects.'
    )


def _load(tf_file: Path) -> dict:
    import hcl2  # python-hcl2 (and lark) only where Terraform is read: not in the producer Lambda

    try:
        with tf_file.open(encoding="utf-8") as handle:
            return hcl2.load(handle)
    except Exception as err:  # python-hcl2 raises lark errors of many kinds
        raise TerraformSchemaError(f"{tf_file}: not valid HCL ({err}); fix the file and run again.") from err


def _columns_of(tf_file: Path, declared: object) -> TableSchema:
    if not isinstance(declared, list) or not all(isinstance(item, dict) for item in declared):
        raise TerraformSchemaError(
            f'{tf_file}: local.columns must be a literal list of {{ name = "...", type = "..." }} objects,'
            f" not {declared!r}"
        )
    columns: list[Column] = []
    for item in declared:
        name = _unquote(item.get("name", ""))
        type_text = _unquote(item.get("type", ""))
        if not name or not type_text or "${" in name or "${" in type_text:
            raise TerraformSchemaError(f"{tf_file}: a column lacks a literal name or type: {item!r}")
        try:
            columns.append(Column(name, normalize_glue_type(type_text)))
        except ValueError as err:
            raise TerraformSchemaError(f"{tf_file}: column {name!r}: {err}") from err
    if not columns:
        raise TerraformSchemaError(f"{tf_file}: local.columns declares no column")
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TerraformSchemaError(f"{tf_file}: columns declared twice: {', '.join(duplicates)}")
    return TableSchema(tuple(columns))


def read_desired_layout(s3tables_module_dir: Path, resource_name: str = "health_records") -> TableLayout:
    """The partition spec and sort order of `awscc_s3tables_table.<resource_name>`'s iceberg_metadata."""
    if not s3tables_module_dir.is_dir():
        raise TerraformSchemaError(
            f"Terraform S3 Tables module not found at {s3tables_module_dir}; set HEALTH_PIPELINE_TERRAFORM_DIR to"
            " the directory that holds modules/s3tables."
        )
    for tf_file in sorted(s3tables_module_dir.glob("*.tf")):
        for resource in _load(tf_file).get("resource", []):
            for kind, named in resource.items():
                if _unquote(kind) != "awscc_s3tables_table":
                    continue
                for name, body in named.items():
                    if _unquote(name) == resource_name:
                        return _layout_of(tf_file, body.get("iceberg_metadata") or {})
    raise TerraformSchemaError(
        f"no resource awscc_s3tables_table.{resource_name} in {s3tables_module_dir}/*.tf; the table's partition"
        " spec and sort order must be declared there."
    )


def _layout_of(tf_file: Path, metadata: dict) -> TableLayout:
    def fields(block: str) -> list[dict]:
        found = (metadata.get(block) or {}).get("fields") or []
        if not isinstance(found, list) or not all(isinstance(field, dict) for field in found):
            raise TerraformSchemaError(f"{tf_file}: {block}.fields must be a literal list of objects, one per field")
        return found

    def source(field: dict, block: str) -> str:
        match = _SOURCE.fullmatch(str(field.get("source_id", "")))
        if not match:
            raise TerraformSchemaError(
                f'{tf_file}: {block} field {field!r}: write its source_id as local.field_id["<column>"]'
            )
        return match.group(1)

    partition = tuple(
        PartitionField(source(field, "iceberg_partition_spec"), _unquote(field.get("transform", "")))
        for field in fields("iceberg_partition_spec")
    )
    sort = tuple(
        SortField(
            source(field, "iceberg_sort_order"),
            _unquote(field.get("transform", '"identity"')),
            _unquote(field.get("direction", '"asc"')),
            _unquote(field.get("null_order", '"nulls-first"')),
        )
        for field in fields("iceberg_sort_order")
    )
    return TableLayout(partition, sort)
