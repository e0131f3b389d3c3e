"""The table's schema as plain data: the Terraform reader, the type mapping, the layout, the drift."""

from health_pipeline.schema.layout import TableLayout
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.terraform import TerraformSchemaError, read_desired_layout, read_desired_schema

__all__ = ["Column", "TableLayout", "TableSchema", "TerraformSchemaError", "read_desired_layout", "read_desired_schema"]
