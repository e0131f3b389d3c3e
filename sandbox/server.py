"""The sandbox: moto in server mode on 127.0.0.1 with the sandbox's Athena and Firehose installed,
and the resources the production Terraform declares created in it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from sandbox import athena_service, firehose_service
from sandbox.terraform import Declared, read_declared

ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}  # placeholders: moto checks none
FLUSH_PATH = "/_sandbox/firehose/flush"


class Sandbox:
    """Start with `start()`, stop with `stop()`; `endpoint` and `environment()` say how to reach it."""

    def __init__(self, terraform_dir: Path, port: int = 0, buffer_interval_s: int | None = None) -> None:
        self.declared: Declared = read_declared(terraform_dir)
        # The stream's BufferingHints.IntervalInSeconds: Terraform's unless given (`make demo-aws` gives 1).
        self.buffer_interval_s = self.declared.buffering_interval_s if buffer_interval_s is None else buffer_interval_s
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._catalog: Any = None
        self._clients: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.firehose: firehose_service.FirehoseSandbox | None = None
        self.alert_topic_arn = ""

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() the sandbox first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1", self.port, self._wsgi(moto_app), threaded=True, request_handler=MotoRequestHandler
        )
        # A client's kept-alive connection must not hold the process open once it is told to stop.
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)
        self._thread.start()
        athena_service.install(athena_service.AthenaSandbox(self.load_table, self.lock))
        self.firehose = firehose_service.FirehoseSandbox(
            self.load_table, self.client, self.lock, ACCOUNT, self.declared.region
        )
        firehose_service.install(self.firehose)
        self.firehose.start()
        self._create_resources()

    def stop(self) -> None:
        if self.firehose is not None:
            self.firehose.flush()
            self.firehose.stop()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _wsgi(self, moto_app: Callable[..., Any]) -> Callable[..., Any]:
        """moto's WSGI app, with the sandbox's own route: POST /_sandbox/firehose/flush delivers every
        Firehose buffer now and answers with what was delivered."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if environ.get("PATH_INFO") == FLUSH_PATH and environ.get("REQUEST_METHOD") == "POST":
                assert self.firehose is not None
                delivered = {
                    stream: {"delivered": d.delivered, "failed": d.failed, "error_objects": d.error_keys}
                    for stream, d in self.firehose.flush().items()
                }
                body = json.dumps(delivered).encode()
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            return moto_app(environ, start_response)

        return app

    # -- clients of the sandbox itself ---------------------------------------------------------------
    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.session.Session(
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=self.declared.region,
            ).client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    def catalog(self) -> Any:
        """PyIceberg's Glue catalog over the sandbox's Glue and S3."""
        if self._catalog is None:
            from pyiceberg.catalog.glue import GlueCatalog

            self._catalog = GlueCatalog(
                "sandbox",
                client=self.client("glue"),
                **{
                    "s3.endpoint": self.endpoint,
                    "s3.region": self.declared.region,
                    "s3.access-key-id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "s3.secret-access-key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                },
            )
        return self._catalog

    def load_table(self, database: str, table: str) -> Any:
        return self.catalog().load_table((database, table))

    # -- what the Terraform declares -------------------------------------------------------------
    def _create_resources(self) -> None:
        d = self.declared
        s3 = self.client("s3")
        for bucket in (d.bucket, d.table_bucket):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": d.region})
        s3.put_bucket_versioning(Bucket=d.bucket, VersioningConfiguration={"Status": "Enabled"})
        self._create_table()
        self.client("athena").create_work_group(
            Name=d.workgroup,
            Description="health-pipeline (sandbox): terraform/modules/athena's workgroup",
            Configuration=json.loads(json.dumps(d.workgroup_configuration)),
        )
        role = f"arn:aws:iam::{ACCOUNT}:role/{d.stream}-firehose"
        self.client("firehose").create_delivery_stream(
            DeliveryStreamName=d.stream,
            DeliveryStreamType="DirectPut",
            IcebergDestinationConfiguration={
                "RoleARN": role,
                "CatalogConfiguration": {
                    "CatalogARN": f"arn:aws:glue:{d.region}:{ACCOUNT}:catalog/s3tablescatalog/{d.table_bucket}"
                },
                "DestinationTableConfigurationList": [
                    {"DestinationDatabaseName": d.database, "DestinationTableName": d.table}
                ],
                "BufferingHints": {"SizeInMBs": d.buffering_size_mb, "IntervalInSeconds": self.buffer_interval_s},
                "S3BackupMode": "FailedDataOnly",
                "S3Configuration": {
                    "RoleARN": role,
                    "BucketARN": f"arn:aws:s3:::{d.bucket}",
                    "ErrorOutputPrefix": d.error_output_prefix,
                    "CompressionFormat": "UNCOMPRESSED",
                },
            },
        )
        self.alert_topic_arn = self.client("sns").create_topic(Name=d.alerts_topic)["TopicArn"]

    def _create_table(self) -> None:
        from pyiceberg.partitioning import PartitionField, PartitionSpec
        from pyiceberg.table.sorting import NullOrder, SortDirection, SortField, SortOrder
        from pyiceberg.transforms import parse_transform

        d = self.declared
        catalog = self.catalog()
        catalog.create_namespace(d.database)
        schema = d.columns.to_iceberg()
        layout = d.layout
        spec = PartitionSpec(
            *(
                PartitionField(schema.find_field(f.column).field_id, 1000 + i, parse_transform(f.transform),
                               f"{f.column}_{f.transform}")
                for i, f in enumerate(layout.partition if layout else ())
            )
        )  # fmt: skip
        order = SortOrder(
            *(
                SortField(
                    source_id=schema.find_field(f.column).field_id,
                    transform=parse_transform(f.transform),
                    direction=SortDirection(f.direction),
                    null_order=NullOrder(f.null_order),
                )
                for f in (layout.sort if layout else ())
            )
        )
        catalog.create_table(
            (d.database, d.table),
            schema=schema,
            location=f"s3://{d.table_bucket}/{d.database}/{d.table}",
            partition_spec=spec,
            sort_order=order,
        )

    def environment(self) -> dict[str, str]:
        """What points boto3 and the aws mode at the sandbox (sandbox.env)."""
        d = self.declared
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": d.region,
            "AWS_DEFAULT_REGION": d.region,
            **CREDENTIALS,
            "HEALTH_PIPELINE_MODE": "aws",
            "HEALTH_PIPELINE_FIREHOSE_STREAM": d.stream,
            "HEALTH_PIPELINE_CATALOG": athena_service.DEFAULT_CATALOG,
            "HEALTH_PIPELINE_DATABASE": d.database,
            "HEALTH_PIPELINE_TABLE": d.table,
            "HEALTH_PIPELINE_ATHENA_WORKGROUP": d.workgroup,
            "HEALTH_PIPELINE_ATHENA_OUTPUT": d.athena_output,
            "HEALTH_PIPELINE_EXPORT_URI": f"s3://{d.bucket}/{d.exports_prefix}",
            "HEALTH_PIPELINE_ALERT_TOPIC_ARN": self.alert_topic_arn,
        }
