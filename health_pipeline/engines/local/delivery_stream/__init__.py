"""The local delivery stream (Kinesis Firehose's semantics on one machine): `stream` (send, flush,
deliver), `spool` (the segment files), `workers` (the threads of a send), `commit` (one tagged
snapshot per segment)."""

from health_pipeline.delivery.json_lines import MAX_RECORD_BYTES
from health_pipeline.delivery.stream import ErrorOutput, Rejection
from health_pipeline.engines.local.delivery_stream.commit import SEGMENT_PROPERTY
from health_pipeline.engines.local.delivery_stream.spool import created_at, file_size, line_count
from health_pipeline.engines.local.delivery_stream.stream import LocalDeliveryStream

__all__ = [
    "MAX_RECORD_BYTES",
    "SEGMENT_PROPERTY",
    "ErrorOutput",
    "LocalDeliveryStream",
    "Rejection",
    "created_at",
    "file_size",
    "line_count",
]
