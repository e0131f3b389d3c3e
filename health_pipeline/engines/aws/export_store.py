"""Exported files in S3 (aws mode): written with one PUT, or copied server-side from Athena's result.

A PUT or a copy replaces the object in one step (readers see the old or the new file, never half),
so a re-materialization simply overwrites. `copy_from` never brings the data through this process.
The client is a boto3 S3 client from boto3's own credential chain.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from health_pipeline.engines.base import ExportedFile
from health_pipeline.summary import summary_csv

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key/prefix') of an s3:// URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI (expected s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket (expected s3://bucket/key)")
    return bucket, key


class S3ExportStore:
    kinds = frozenset({"csv", "s3"})

    def __init__(self, client: Any, export_uri: str) -> None:
        bucket, prefix = split_s3_uri(export_uri)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def write(self, key: str, data: bytes, content_type: str = CSV_CONTENT_TYPE) -> str:
        """Put `data` at `key` below the export URI, replacing what was there."""
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type)
        return self.uri(key)

    def copy_from(self, source_uri: str, key: str, content_type: str = CSV_CONTENT_TYPE) -> str:
        """Copy the object at `source_uri` (e.g. Athena's result CSV) to `key`, inside S3 (CopyObject:
        up to 5 GB, far above a day's summary), replacing what was there."""
        source_bucket, source_key = split_s3_uri(source_uri)
        if not source_key:
            raise ValueError(f"{source_uri!r} names a bucket, not an object; pass the result object's URI")
        self.client.copy_object(
            Bucket=self.bucket,
            Key=self.prefix + key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            MetadataDirective="REPLACE",
            ContentType=content_type,
        )
        return self.uri(key)

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def export_summary(self, key: str, rows: pa.Table, result_location: str | None = None) -> ExportedFile:
        """The summary at `key`: a server-side copy of Athena's result CSV (the rows never pass through
        this process), or, for a query that wrote no result object, the rows we hold written as CSV."""
        if result_location is None:
            data = summary_csv(rows)
            return ExportedFile(self.write(key, data), len(data), "written")
        bucket, source_key = split_s3_uri(result_location)
        size = self.client.head_object(Bucket=bucket, Key=source_key)["ContentLength"]
        return ExportedFile(self.copy_from(result_location, key), size, f"copied from {result_location}")
