"""The Dagster resources: the stack of the configured mode, whole.

Assets, checks and sensors take `stack: dg.ResourceParam[Stack]` and use its parts (`stack.table`,
`stack.query_engine`, ...); the stack holds the settings and connects the first time a part is used,
so loading the code location does no I/O. Which stack serves is `engines.stack_for`'s choice alone.
No asset hands a value to another through an IO manager: the summary's rows are kept by the stack's
`summary_store` (so a backfill of many days is one run), everything else is a MaterializeResult.
"""

from __future__ import annotations

from health_pipeline.stack import Stack


def build_resources(stack: Stack) -> dict[str, object]:
    return {"stack": stack}
