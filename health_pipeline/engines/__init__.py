"""The two stacks, with the same parts: `local` (the embedded default) and `aws` (production). What
each part is, the contract both stacks are checked against by mypy, is `health_pipeline/stack.py`:
read it first. This package holds the stacks and what only they share (`desired`).

Each stack has `table`, `query_engine`, `export_store`, `summary_store`, `delivery_stream`,
`delivery_monitor`, `schema_target`, `maintenance`, `alert_destination`, `liveness` (the heartbeat and
export signs that the watch alarms read) and `erasure` (a person's rows deleted, their
history removed or dated: `health_pipeline.erasure`), plus `desired_schema()`. `stack_for(settings)` is the only code in the project that
looks at the mode; it imports only the stack it returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from health_pipeline.stack import Stack

if TYPE_CHECKING:
    from health_pipeline.settings import Settings

__all__ = ["Stack", "stack_for"]


def stack_for(settings: Settings) -> Stack:
    """The stack of `settings.mode`; nothing connects until one of its parts is used."""
    if settings.mode == "aws":
        from health_pipeline.engines.aws import AwsStack

        return AwsStack(settings)
    from health_pipeline.engines.local import LocalStack

    return LocalStack(settings)
