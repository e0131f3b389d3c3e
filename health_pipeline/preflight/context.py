"""What every check reads: the settings, the caller, the deployment's ARNs, boto3 clients, and the few
descriptions several checks share (read once)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from health_pipeline.preflight.deployment import DeploymentArns
from health_pipeline.preflight.results import PreflightCannotRun
from health_pipeline.settings import Settings
from health_pipeline.stack import Stack

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def is_access_denied(err: Exception) -> bool:
    return isinstance(err, ClientError) and error_code(err) in ACCESS_DENIED


class Preflight:
    """The live account as the checks see it, through the aws mode's `stack` (the entry point builds it
    with `engines.stack_for`) for what the code itself does (the test SELECT, the schema plan).
    `client_factory(service)` gives a boto3 client (by default as the aws stack makes them: the
    settings' region, boto3's credential chain, AWS_ENDPOINT_URL)."""

    def __init__(
        self, settings: Settings, client_factory: Callable[[str], Any] | None = None, stack: Stack | None = None
    ) -> None:
        if settings.mode != "aws":
            raise PreflightCannotRun(
                "preflight checks an AWS deployment: set HEALTH_PIPELINE_MODE=aws and the settings of"
                " terraform/envs/prod's outputs (scripts/terraform_outputs_env.py prints them), and AWS credentials"
                " for the account (AWS_PROFILE, or the usual credential chain)."
            )
        self.settings = settings
        self._stack = stack
        self._client_factory = client_factory or self._boto3_client
        self._clients: dict[str, Any] = {}

    def _boto3_client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session(region_name=self.settings.aws_region).client(service)

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            raise PreflightCannotRun("this check runs the aws mode's own code: give Preflight the aws stack")
        return self._stack

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client_factory(service)
        return self._clients[service]

    @cached_property
    def caller(self) -> dict[str, str]:
        try:
            identity = self.client("sts").get_caller_identity()
        except NoCredentialsError as err:
            raise PreflightCannotRun(
                "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where"
                f" a role is attached) for the deployment's account, and AWS_REGION ({self.settings.aws_region})."
            ) from err
        except (ClientError, BotoCoreError) as err:
            raise PreflightCannotRun(
                f"the AWS credentials could not be used ({err}); refresh them (aws sso login, or new keys) for the"
                f" deployment's account and region {self.settings.aws_region}, then run preflight again."
            ) from err
        return {"account": identity["Account"], "arn": identity["Arn"]}

    @cached_property
    def arns(self) -> DeploymentArns:
        partition = self.caller["arn"].split(":")[1]
        return DeploymentArns(self.settings, partition, self.caller["account"])

    @cached_property
    def dagster_role_arn(self) -> str | None:
        """HEALTH_PIPELINE_DAGSTER_ROLE_ARN, or the caller's role when the caller is an assumed role."""
        if self.settings.dagster_role_arn:
            return self.settings.dagster_role_arn
        parts = self.caller["arn"].split(":", 5)
        if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
            role = parts[5].split("/")[1]
            return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
        return None

    @cached_property
    def stream(self) -> dict[str, Any]:
        """DescribeDeliveryStream's description of the configured stream (raises ClientError)."""
        firehose = self.client("firehose")
        return firehose.describe_delivery_stream(DeliveryStreamName=self.settings.firehose_stream)[
            "DeliveryStreamDescription"
        ]

    @cached_property
    def iceberg_destination(self) -> dict[str, Any] | None:
        for destination in self.stream.get("Destinations", []):
            if "IcebergDestinationDescription" in destination:
                return destination["IcebergDestinationDescription"]
        return None

    @cached_property
    def firehose_role_arn(self) -> str | None:
        try:
            destination = self.iceberg_destination
        except ClientError:
            return None
        return destination.get("RoleARN") if destination else None

    @cached_property
    def table_arn(self) -> str | None:
        """The S3 Tables table's ARN (GetTable on the table bucket), or None when it cannot be read."""
        bucket_arn = self.arns.table_bucket_arn
        if bucket_arn is None:
            return None
        try:
            table = self.client("s3tables").get_table(
                tableBucketARN=bucket_arn, namespace=self.settings.database, name=self.settings.table
            )
        except (ClientError, BotoCoreError):
            return None
        return str(table["tableARN"])
