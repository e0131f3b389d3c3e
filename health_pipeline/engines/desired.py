"""What only the two stacks share: the desired schema and layout, read from the Terraform they are given."""

from __future__ import annotations

from dataclasses import dataclass

from health_pipeline.schema import TableLayout, TableSchema, read_desired_layout, read_desired_schema
from health_pipeline.settings import Settings


@dataclass
class TerraformDesired:
    """What both stacks read from the Terraform they are given: the desired schema and layout."""

    settings: Settings

    def desired_schema(self) -> TableSchema:
        """The schema Terraform declares (the S3 Tables module's local.columns), read afresh on every call."""
        return read_desired_schema(self.settings.s3tables_module_dir)

    def desired_layout(self) -> TableLayout | None:
        """The partition spec and sort order Terraform declares (the S3 Tables module's table); None
        when the Terraform directory has no modules/s3tables (the layout is then not compared)."""
        module = self.settings.s3tables_module_dir
        return read_desired_layout(module) if module.is_dir() else None
