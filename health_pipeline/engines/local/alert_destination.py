"""Local mode's alert destination: JSON Lines under $HEALTH_PIPELINE_HOME/alerts/, one file per UTC
day, and a log line, so `make demo` and `make dev` show the alerting path end to end."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from health_pipeline.alerts.messages import SUBJECT_PREFIX, Alert

log = logging.getLogger("health_pipeline.alerts")


class LocalAlertFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = str(directory)

    def path_for(self, moment: datetime) -> Path:
        return self.directory / f"alerts-{moment.astimezone(UTC).date().isoformat()}.jsonl"

    def send(self, alert: Alert) -> None:
        """Appends the alert as one line (a single write, then fsync: a crash leaves whole lines)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(datetime.now(UTC))
        line = (json.dumps(alert.as_dict(), ensure_ascii=False, sort_keys=True) + "\n").encode()
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        log.warning(f"{SUBJECT_PREFIX} {alert.severity}: {alert.subject} ({alert.key}; {path})")

    def read(self) -> list[Alert]:
        """Every alert in the directory, oldest file first (for `alerts test`, the tests and the demo)."""
        if not self.directory.is_dir():
            return []
        lines = [line for p in sorted(self.directory.glob("alerts-*.jsonl")) for line in p.read_text().splitlines()]
        return [Alert.from_dict(json.loads(line)) for line in lines if line.strip()]
