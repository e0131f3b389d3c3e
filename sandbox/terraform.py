"""What the sandbox creates, read from the project's Terraform (python-hcl2): the production
environment's names (terraform/envs/prod), the Athena workgroup's configuration
(terraform/modules/athena), the table's columns and layout (the project's own schema reader over
terraform/modules/s3tables: its local.columns and its table)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from health_pipeline.schema import TableLayout, TableSchema, read_desired_layout, read_desired_schema


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


def _text(value: Any) -> str:
    return str(value).strip('"') if isinstance(value, str) else str(value)


def _block(value: Any) -> dict[str, Any]:
    return value[0] if isinstance(value, list) else value


@dataclass(frozen=True)
class Declared:
    """The resources the production Terraform declares, with the values the sandbox creates them with."""

    region: str
    bucket: str
    table_bucket: str
    database: str
    table: str
    columns: TableSchema
    layout: TableLayout | None
    results_prefix: str
    exports_prefix: str
    error_output_prefix: str
    stream: str
    buffering_size_mb: int
    buffering_interval_s: int
    workgroup: str
    workgroup_configuration: dict[str, Any]
    alerts_topic: str

    @property
    def athena_output(self) -> str:
        return f"s3://{self.bucket}/{self.results_prefix}"


def read_declared(terraform_dir: Path) -> Declared:
    prod = terraform_dir / "envs" / "prod"
    main = _load(prod / "main.tf")
    defaults = {
        _text(name): _text(body.get("default"))
        for variable in _load(prod / "variables.tf").get("variable", [])
        for name, body in variable.items()
    }
    local = {k: v for block in main.get("locals", []) for k, v in block.items()}
    modules = {_text(name): body for module in main.get("module", []) for name, body in module.items()}
    buffering = _block(local["buffering"])
    workgroup = _workgroup_configuration(terraform_dir / "modules" / "athena" / "main.tf")
    output = f"s3://{_text(local['bucket'])}/{_text(local['results_prefix'])}"
    workgroup["ResultConfiguration"]["OutputLocation"] = output
    return Declared(
        region=defaults["region"],
        bucket=_text(local["bucket"]),
        table_bucket=defaults["table_bucket_name"],
        database=_text(local["database"]),
        table="health_records",
        columns=read_desired_schema(terraform_dir / "modules" / "s3tables"),
        layout=read_desired_layout(terraform_dir / "modules" / "s3tables"),
        results_prefix=_text(local["results_prefix"]),
        exports_prefix=_text(local["exports_prefix"]),
        error_output_prefix=_text(local["error_output_prefix"]),
        stream=defaults["stream_name"],
        buffering_size_mb=int(buffering["size_mb"]),
        buffering_interval_s=int(buffering["interval_seconds"]),
        workgroup=defaults["athena_workgroup"],
        workgroup_configuration=workgroup,
        alerts_topic=_text(modules["alerts"]["topic_name"]),
    )


def _workgroup_configuration(athena_main: Path) -> dict[str, Any]:
    """The aws_athena_workgroup's configuration block as the Athena API spells it (literal values only)."""
    resources = _load(athena_main).get("resource", [])
    workgroup = next(
        next(iter(body.values())) for resource in resources for kind, body in resource.items()
        if _text(kind) == "aws_athena_workgroup"
    )  # fmt: skip
    configuration = _block(workgroup["configuration"])
    result = _block(configuration["result_configuration"])
    encryption = _block(result["encryption_configuration"])
    return {
        "EnforceWorkGroupConfiguration": bool(configuration["enforce_workgroup_configuration"]),
        "PublishCloudWatchMetricsEnabled": bool(configuration["publish_cloudwatch_metrics_enabled"]),
        "RequesterPaysEnabled": bool(configuration["requester_pays_enabled"]),
        "EngineVersion": {
            "SelectedEngineVersion": _text(_block(configuration["engine_version"])["selected_engine_version"])
        },
        "ResultConfiguration": {
            "EncryptionConfiguration": {"EncryptionOption": _text(encryption["encryption_option"])}
        },
    }
