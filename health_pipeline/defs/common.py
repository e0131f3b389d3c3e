"""What every asset of the code location shares: its owner, and how a query's outcome becomes Dagster
metadata or a Dagster failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from botocore.exceptions import BotoCoreError

from health_pipeline.sql import Query
from health_pipeline.stack import QueryEngine, QueryFailed, QueryResult
from health_pipeline.storage_fault import StorageFault, storage_fault

OWNER = "team:health-pipeline"
HEALTH_RECORDS = dg.AssetKey("health_records")
FIREHOSE_DELIVERY = dg.AssetKey("firehose_delivery")


def run_query(engine: QueryEngine, query: Query) -> QueryResult:
    """Run `query`; a failed query becomes a Dagster Failure that shows why, with its query id and
    console link, and is retried by the asset's RetryPolicy only when a retry may help: the engine says
    so (Athena's AthenaError.Retryable, throttling) or the connection to AWS failed. A RetryPolicy
    retries every other exception too, so anything else fails at once, not 90 s later."""
    try:
        return engine.run(query)
    except BotoCoreError:  # the connection to AWS (a timeout, a dropped endpoint): a retry may help
        raise
    except QueryFailed as err:
        details = {
            key: value
            for key in ("query_id", "state", "reason", "error_category", "error_type", "retryable")
            if (value := getattr(err, key, None)) is not None
        }
        link = getattr(err, "console_url", None)
        metadata = {**details, **({"console": dg.MetadataValue.url(link)} if link else {})}
        raise dg.Failure(str(err), metadata=metadata, allow_retries=bool(getattr(err, "retryable", False))) from err
    except Exception as err:  # a bug, or input the code did not foresee: a retry 30 s later would repeat it
        fault = (
            err
            if isinstance(err, StorageFault)
            else storage_fault(err, f"query {query.name} could not run", Path.cwd())
        )
        if fault is not None:
            raise machine_failure(fault) from err
        raise dg.Failure(
            f"query {query.name} could not run: {type(err).__name__}: {err} (not retried: it is not a failure"
            " Athena or the network reported; the traceback below shows where)",
            allow_retries=False,
        ) from err


def query_metadata(result: QueryResult) -> dict:
    """The query's figures as metadata; the console link clickable in the UI."""
    metadata = result.metadata()
    if link := metadata.pop("console_url", None):
        metadata["console"] = dg.MetadataValue.url(link)
    return metadata


@contextmanager
def machine_faults(failed: str, home: Path) -> Iterator[None]:
    """A fault of the machine in the block (no space, permission denied, a read-only file system, a home
    that is a file) fails the asset with the StorageFault's message: what failed, where, what is safe and
    what to do. Not retried: a person frees the space or fixes the permission first."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as err:
        fault = err if isinstance(err, StorageFault) else storage_fault(err, failed, home)
        if fault is None:
            raise
        raise machine_failure(fault) from err


def machine_failure(fault: StorageFault) -> dg.Failure:
    return dg.Failure(
        str(fault),
        metadata={"path": dg.MetadataValue.path(str(fault.path)), "reason": fault.reason},
        allow_retries=False,
    )
