"""What the alerts sensor remembers between ticks (its cursor, as JSON) and how alerts are handed to
the destination: each key once; an alert the destination refused waits in the cursor for the next
tick; nothing here raises because a destination is down."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from health_pipeline.alerts.incidents import CheckFailed, TicksFailing
from health_pipeline.alerts.messages import Alert
from health_pipeline.stack import AlertDestination

SENT_KEPT = 500  # keys remembered as sent (a backfill, an overdue day: never told twice)
PENDING_KEPT = 200  # alerts kept for a later tick while the destination fails; the oldest go first
OPEN_KEPT = 500  # open incidents remembered (a check failing for many partitions); the oldest go first
CURSOR_VERSION = 1

log = logging.getLogger("health_pipeline.alerts")


@dataclass
class AlertCursor:
    """The storage ids read up to in the event log, the open incidents (a check still failing, an
    instigator still failing: identity -> key), the keys sent, and the alerts not delivered yet."""

    run_failure_after: int | None = None
    run_success_after: int | None = None
    open: dict[str, str] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> AlertCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("version") != CURSOR_VERSION:
                raise ValueError(f"cursor version {data.get('version')!r}")
            return cls(
                run_failure_after=data.get("run_failure_after"),
                run_success_after=data.get("run_success_after"),
                open=dict(data.get("open", {})),
                sent=list(data.get("sent", [])),
                pending=list(data.get("pending", [])),
            )
        except (ValueError, TypeError, AttributeError) as err:
            # A cursor from another version (or edited by hand): start over rather than stop alerting.
            log.warning(f"alerts sensor cursor not readable ({err}); starting from the recent history")
            return cls()

    def newly_failing(self, failed: list[CheckFailed], passed: set[str]) -> list[CheckFailed]:
        """Of a finished run's check results, the failures of checks not failing already; a check
        that passed closes its incident, so its next failure is told again."""
        for identity in passed:
            self.open.pop(f"check:{identity}", None)
        new = []
        for check in failed:
            if f"check:{check.identity}" not in self.open:
                new.append(check)
            self.open[f"check:{check.identity}"] = check.key
        return new

    def new_streaks(self, streaks: list[TicksFailing]) -> list[TicksFailing]:
        """The failing streaks not told yet; a sensor or schedule no longer failing closes its incident."""
        current = {streak.name: streak for streak in streaks}
        for key in [k for k in self.open if k.startswith("ticks:") and k.removeprefix("ticks:") not in current]:
            del self.open[key]
        new = [streak for name, streak in current.items() if f"ticks:{name}" not in self.open]
        self.open.update({f"ticks:{streak.name}": streak.key for streak in new})
        return new

    def dump(self) -> str:
        return json.dumps(
            {
                "version": CURSOR_VERSION,
                "run_failure_after": self.run_failure_after,
                "run_success_after": self.run_success_after,
                "open": dict(list(self.open.items())[-OPEN_KEPT:]),
                "sent": self.sent[-SENT_KEPT:],
                "pending": self.pending[-PENDING_KEPT:],
            },
            ensure_ascii=False,
            sort_keys=True,
        )


@dataclass
class DeliveryReport:
    sent: list[Alert]
    waiting: list[Alert]
    error: str | None


def deliver(cursor: AlertCursor, alerts: list[Alert], destination: AlertDestination) -> DeliveryReport:
    """Send the cursor's pending alerts, then `alerts`, each key once. On the first failure the rest
    wait in `cursor.pending` (the destination is likely down: no point timing out on each)."""
    known = set(cursor.sent)
    queue: list[Alert] = []
    for alert in [*(Alert.from_dict(p) for p in cursor.pending), *alerts]:
        if alert.key not in known:
            known.add(alert.key)
            queue.append(alert)
    sent: list[Alert] = []
    error = None
    for index, alert in enumerate(queue):
        try:
            destination.send(alert)
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            log.warning(f"alert {alert.key} not delivered to {destination.where}, retried next tick: {error}")
            queue = queue[index:]
            break
        sent.append(alert)
        cursor.sent.append(alert.key)
    else:
        queue = []
    if len(queue) > PENDING_KEPT:
        log.error(f"{len(queue) - PENDING_KEPT} undelivered alert(s) dropped (the oldest): {destination.where} fails")
    cursor.pending = [a.as_dict() for a in queue[-PENDING_KEPT:]]
    cursor.sent = cursor.sent[-SENT_KEPT:]
    return DeliveryReport(sent, queue[-PENDING_KEPT:], error)
