"""Fixtures the integration tests share: moto's Athena and S3 with the captured requests, and the aws
mode's settings on moto."""

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from health_pipeline.settings import Settings
from health_pipeline_tests.support.aws_moto import BUCKET, DATABASE, REGION


@pytest.fixture
def moto_aws(aws: str) -> dict[str, Any]:
    """moto with the results and export bucket; clients built by boto3 from the environment it set."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    athena = boto3.client("athena", region_name=REGION)
    sent: list[dict] = []

    def capture(params: dict[str, Any], **_: Any) -> None:  # the StartQueryExecution body as it goes over HTTP
        sent.append(json.loads(params["body"]))

    athena.meta.events.register("before-call.athena.StartQueryExecution", capture)
    return {"endpoint": aws, "s3": s3, "athena": athena, "sent": sent}


@pytest.fixture
def aws_settings(aws: str, tmp_path: Path) -> Settings:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return Settings(
        mode="aws",
        home=tmp_path / "home",
        database=DATABASE,
        athena_output=f"s3://{BUCKET}/athena-results/",
        export_uri=f"s3://{BUCKET}/exports/",
        s3_endpoint_url=aws,
    )
