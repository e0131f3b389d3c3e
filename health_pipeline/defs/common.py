"""What every asset of the code location shares: its owner, the settings it was loaded with, and how a
query's outcome becomes Dagster metadata or a Dagster failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from health_pipeline.engines.base import QueryFailed, QueryResult
from health_pipeline.settings import load_settings
from health_pipeline.sql import Query

if TYPE_CHECKING:
    from health_pipeline.defs.resources import QueryEngineResource

OWNER = "team:health-pipeline"
SETTINGS = load_settings()


def run_query(engine: QueryEngineResource, query: Query) -> QueryResult:
    """Run `query`; a failed query becomes a Dagster Failure that shows why, with its query id and
    console link, and is retried by the asset's RetryPolicy only when the engine says a retry may help
    (Athena's AthenaError.Retryable, throttling)."""
    try:
        return engine.run(query)
    except QueryFailed as err:
        details = {
            key: value
            for key in ("query_id", "state", "reason", "error_category", "error_type", "retryable")
            if (value := getattr(err, key, None)) is not None
        }
        link = getattr(err, "console_url", None)
        metadata = {**details, **({"console": dg.MetadataValue.url(link)} if link else {})}
        raise dg.Failure(str(err), metadata=metadata, allow_retries=bool(getattr(err, "retryable", False))) from err


def query_metadata(result: QueryResult) -> dict:
    """The query's figures as metadata; the console link clickable in the UI."""
    metadata = result.metadata()
    if link := metadata.pop("console_url", None):
        metadata["console"] = dg.MetadataValue.url(link)
    return metadata
