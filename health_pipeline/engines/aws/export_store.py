"""Exported files in S3 (aws mode), each written with one PUT.

A PUT replaces the object in one step (readers see the old or the new file, never half), so a
re-materialization simply overwrites.
The client is a boto3 S3 client from boto3's own credential chain.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa

from health_pipeline.stack import ExportedFile
from health_pipeline.summary.csv_format import summary_csv

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
    kinds: ClassVar[frozenset[str]] = frozenset({"csv", "s3"})

    def __init__(self, client: Any, export_uri: str) -> None:
        bucket, prefix = split_s3_uri(export_uri)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def write(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Put `data` at `key` below the export URI, replacing what was there (a CSV unless `content_type`)."""
        self.client.put_object(
            Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type or CSV_CONTENT_TYPE
        )
        return self.uri(key)

    def read(self, key: str) -> bytes:
        """The object at `key`; FileNotFoundError when there is none (as the local store)."""
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"no object at {self.uri(key)}") from err
            raise

    def keys(self, prefix: str) -> list[str]:
        """The keys (below the export URI) of the objects under `prefix`."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        return [item["Key"][len(self.prefix) :] for page in pages for item in page.get("Contents", [])]

    def remove(self, key: str) -> bool:
        """Delete the object at `key` with every version the bucket keeps of it; False when there was none."""
        removed = False
        for page in self.client.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=self.prefix + key
        ):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if version["Key"] == self.prefix + key:
                    self.client.delete_object(Bucket=self.bucket, Key=version["Key"], VersionId=version["VersionId"])
                    removed = True
        return removed

    def export_summary(self, key: str, rows: pa.Table) -> ExportedFile:
        """The summary rows as the contract's CSV at `key` (one PUT), replacing the previous object: the
        same bytes as the local mode writes, whether the day was summarized alone or in a range."""
        data = summary_csv(rows)
        return ExportedFile(self.write(key, data), len(data), "written")
