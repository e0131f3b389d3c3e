"""The delivery stream as the firehose_delivery asset reads it. Which implementation serves is decided
in `health_pipeline.defs.resources.build_resources` (key `delivery_stream`): the local stream's spool,
error output and table snapshots, or Kinesis Firehose's description, CloudWatch metrics and S3 error
output. Both connect only when the asset runs."""

from __future__ import annotations

from typing import Any

import dagster as dg

from health_pipeline.defs.resources import _LocalStackResource
from health_pipeline.engines.delivery import DeliveryStatus


class DeliveryStreamResource(dg.ConfigurableResource):
    """What firehose_delivery reads: the stream's state and its figures since the last observation."""

    def observe(self, cursor: dict[str, Any] | None) -> DeliveryStatus:
        raise NotImplementedError(f"{type(self).__name__} does not implement observe()")


class LocalDeliveryStreamResource(_LocalStackResource, DeliveryStreamResource):
    """The local delivery stream under HEALTH_PIPELINE_HOME/delivery: spool, error output, snapshots."""

    def observe(self, cursor: dict[str, Any] | None) -> DeliveryStatus:
        return self.stack().delivery.status(cursor)


class FirehoseDeliveryStreamResource(DeliveryStreamResource):
    """A Kinesis Firehose stream with an Iceberg destination: describe_delivery_stream, its AWS/Firehose
    CloudWatch metrics and the objects under its S3 error output prefix (boto3's credential chain)."""

    region: str
    stream_name: str
    database: str
    table: str

    def observe(self, cursor: dict[str, Any] | None) -> DeliveryStatus:
        import boto3

        from health_pipeline.engines.firehose import FirehoseMonitor

        session = boto3.session.Session(region_name=self.region)
        monitor = FirehoseMonitor(
            firehose=session.client("firehose"),
            cloudwatch=session.client("cloudwatch"),
            s3=session.client("s3"),
            stream_name=self.stream_name,
            database=self.database,
            table=self.table,
            region=self.region,
        )
        return monitor.status(cursor)
