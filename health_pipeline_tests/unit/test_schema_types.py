import shutil

import pyarrow as pa
import pytest
from pyiceberg import types as it

from health_pipeline.schema import TerraformSchemaError, read_desired_schema
from health_pipeline.schema.types import (
    UnsupportedTypeError,
    arrow_type,
    glue_type_of,
    iceberg_type,
    normalize_glue_type,
)
from health_pipeline.settings import PROJECT_ROOT

S3TABLES_MODULE = PROJECT_ROOT / "terraform" / "modules" / "s3tables"


@pytest.mark.parametrize(
    ("glue", "iceberg", "arrow"),
    [
        ("string", it.StringType(), pa.string()),
        ("timestamp", it.TimestampType(), pa.timestamp("us")),
        ("int", it.IntegerType(), pa.int32()),
        ("INT", it.IntegerType(), pa.int32()),
        ("bigint", it.LongType(), pa.int64()),
        ("double", it.DoubleType(), pa.float64()),
        ("float", it.FloatType(), pa.float32()),
        ("boolean", it.BooleanType(), pa.bool_()),
        ("date", it.DateType(), pa.date32()),
        ("decimal(10, 2)", it.DecimalType(10, 2), pa.decimal128(10, 2)),
    ],
)
def test_glue_types_map_to_iceberg_and_arrow(glue, iceberg, arrow):
    assert iceberg_type(glue) == iceberg
    assert arrow_type(glue) == arrow
    assert glue_type_of(iceberg) == normalize_glue_type(glue)


@pytest.mark.parametrize("bad", ["varchar(10)", "map<string,int>", "int); DROP TABLE x", "decimal(99,2)", ""])
def test_types_outside_the_allow_list_are_refused_with_the_list(bad):
    with pytest.raises(UnsupportedTypeError, match="use one of"):
        normalize_glue_type(bad)


def test_the_desired_schema_is_the_declared_columns():
    schema = read_desired_schema(S3TABLES_MODULE)
    assert [(c.name, c.glue_type) for c in schema.columns] == [
        ("user_id", "string"),
        ("recorded_at", "timestamp"),
        ("fatigue", "int"),
        ("mood", "int"),
        ("motivation", "int"),
        ("flags", "int"),
    ]
    iceberg = schema.to_iceberg()
    assert iceberg.find_field("recorded_at").field_type == it.TimestampType()
    assert not any(f.required for f in iceberg.fields)


def test_a_column_added_in_terraform_is_read(tmp_path):
    module = tmp_path / "s3tables"
    shutil.copytree(S3TABLES_MODULE, module)
    main = module / "main.tf"
    text = main.read_text()
    assert text.count('{ name = "flags", type = "int" },') == 1
    main.write_text(
        text.replace(
            '{ name = "flags", type = "int" },',
            '{ name = "flags", type = "int" },\n    { name = "sleep_hours", type = "double" },',
        )
    )
    schema = read_desired_schema(module)
    assert schema.names[-1] == "sleep_hours"
    assert schema.get("sleep_hours").glue_type == "double"
    assert schema.fingerprint != read_desired_schema(S3TABLES_MODULE).fingerprint


def test_a_missing_module_says_which_setting_to_fix(tmp_path):
    with pytest.raises(TerraformSchemaError, match="HEALTH_PIPELINE_TERRAFORM_DIR"):
        read_desired_schema(tmp_path / "nowhere")


def test_an_unsupported_type_in_terraform_names_the_file_and_column(tmp_path):
    module = tmp_path / "s3tables"
    shutil.copytree(S3TABLES_MODULE, module)
    main = module / "main.tf"
    main.write_text(
        main.read_text().replace('{ name = "mood", type = "int" }', '{ name = "mood", type = "varchar(3)" }')
    )
    with pytest.raises(TerraformSchemaError, match=r"main.tf: column 'mood'"):
        read_desired_schema(module)


def test_columns_that_are_not_a_literal_list_are_refused(tmp_path):
    module = tmp_path / "s3tables"
    shutil.copytree(S3TABLES_MODULE, module)
    main = module / "main.tf"
    text = main.read_text()
    start = text.index("  columns = [")
    end = text.index("  ]\n", start) + len("  ]\n")
    main.write_text(text[:start] + "  columns = var.columns\n" + text[end:])
    with pytest.raises(TerraformSchemaError, match="literal list"):
        read_desired_schema(module)


def test_a_module_without_columns_says_where_they_belong(tmp_path):
    module = tmp_path / "glue"
    shutil.copytree(PROJECT_ROOT / "terraform" / "modules" / "glue", module)
    with pytest.raises(TerraformSchemaError, match="no local.columns"):
        read_desired_schema(module)
