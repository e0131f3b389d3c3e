"""Alerts: what an operator is told, in plain Python (no Dagster).

`incidents` holds what went wrong (a failed run, a failed check, an overdue export, a sensor or
schedule whose ticks keep failing), each with a deterministic key; `messages` turns incidents into
`Alert`s an operator can act on; `delivery` keeps what was sent and what still waits (the sensor's
cursor) and hands alerts to the mode's destination (`stack.alert_destination`: JSON Lines files in
local mode, an SNS topic in aws mode). `defs/alerts` is the Dagster sensor that reads the instance.
"""

from health_pipeline.alerts.messages import Alert, AlertDestinationError, Links

__all__ = ["Alert", "AlertDestinationError", "Links"]
