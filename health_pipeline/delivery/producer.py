"""The producer library: what `health-pipeline send` and the demo use to put JSON Lines records into
a stack's `delivery_stream`: the local delivery stream (the embedded default) or Kinesis Firehose
(`HEALTH_PIPELINE_MODE=aws`), as `engines.stack_for` chooses. Both take blocks of lines,
validate each record as `records.validate_record` does (or, `raw`, leave only the stream's own checks)
and acknowledge or reject every line. A malformed line never stops a send: it is rejected to the
error output with its reason and the valid lines around it go on. Records Firehose does not take
after every retry go to a dead-letter file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import BinaryIO

from health_pipeline.delivery.line_blocks import BLOCK_BYTES, blocks_from_pairs, read_blocks
from health_pipeline.delivery.stream import Rejection, SendListener, SendReport
from health_pipeline.schema.model import TableSchema
from health_pipeline.stack import DeliveryStream

__all__ = ["DeliveryStream", "Rejection", "SendReport", "send_file", "send_lines"]


def send_lines(
    delivery: DeliveryStream,
    desired: TableSchema,
    lines: Iterable[tuple[str, bytes]],
    *,
    raw: bool = False,
    on_reject: Callable[[Rejection], None] | None = None,
    on_ack: Callable[[int, str], None] | None = None,
) -> SendReport:
    """Send (where, line) pairs; `raw` skips the producer validation, leaving the stream's own checks."""
    return delivery.send(blocks_from_pairs(lines), None if raw else desired, SendListener(on_reject, on_ack))


def send_file(
    delivery: DeliveryStream,
    desired: TableSchema,
    source: BinaryIO,
    name: str,
    *,
    raw: bool = False,
    on_reject: Callable[[Rejection], None] | None = None,
    on_ack: Callable[[int, str], None] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> SendReport:
    """Send the lines of a binary stream (a file, stdin); rejections name them `name:LINE`."""
    blocks = read_blocks(source, name, block_bytes)
    return delivery.send(blocks, None if raw else desired, SendListener(on_reject, on_ack))
