"""The Dagster resources: the stack of the configured mode, whole, and where values between assets live.

Assets, checks and sensors take `stack: dg.ResourceParam[Stack]` and use its parts (`stack.table`,
`stack.query_engine`, ...); the stack holds the settings and connects the first time a part is used,
so loading the code location does no I/O. Which stack serves is `engines.stack_for`'s choice alone.
"""

from __future__ import annotations

import dagster as dg

from health_pipeline.engines import Stack


def build_resources(stack: Stack, region: str) -> dict[str, object]:
    """`stack` under the key `stack`, and the IO manager for its intermediate location."""
    return {"stack": stack, "io_manager": io_manager_for(stack.intermediate_uri, region)}


def io_manager_for(uri: str, region: str) -> dg.IOManager | dg.ConfigurableIOManager:
    """Pickled values under `uri`: in S3 for an s3:// URI (a run on ECS can read what an earlier run
    wrote), else in the local filesystem."""
    if uri.startswith("s3://"):
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        bucket, _, prefix = uri[len("s3://") :].partition("/")
        return S3PickleIOManager(s3_resource=S3Resource(region_name=region), s3_bucket=bucket, s3_prefix=prefix)
    return dg.FilesystemIOManager(base_dir=uri)
