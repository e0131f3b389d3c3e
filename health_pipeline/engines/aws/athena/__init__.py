"""Amazon Athena, the aws-mode SQL engine: `engine` (start, poll, stop: the execution loop),
`errors` (errors and statistics, priced by `health_pipeline.athena_price`), `literals`
(ExecutionParameters) and `results` (the rows back)."""

from health_pipeline.athena_price import MINIMUM_BILLED_BYTES, estimate_cost_usd
from health_pipeline.engines.aws.athena.engine import ATHENA_TIMEOUT_S, RUNNING_STATES, AthenaQueryEngine
from health_pipeline.engines.aws.athena.errors import (
    AthenaExecution,
    AthenaQueryError,
    AthenaQueryTimeout,
    AthenaThrottled,
    console_url,
)
from health_pipeline.engines.aws.athena.literals import athena_literal, placeholder_count
from health_pipeline.engines.aws.athena.results import typed_table

__all__ = [
    "ATHENA_TIMEOUT_S",
    "MINIMUM_BILLED_BYTES",
    "RUNNING_STATES",
    "AthenaExecution",
    "AthenaQueryEngine",
    "AthenaQueryError",
    "AthenaQueryTimeout",
    "AthenaThrottled",
    "athena_literal",
    "console_url",
    "estimate_cost_usd",
    "placeholder_count",
    "typed_table",
]
