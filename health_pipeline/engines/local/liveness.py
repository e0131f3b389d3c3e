"""Local mode's signs of life: the last tick of alerts_sensor and the last export of daily_summary_csv,
each one small JSON file under $HEALTH_PIPELINE_HOME/watch/ (replaced atomically), which `health-pipeline
alerts status` reads."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from health_pipeline.alerts.liveness import LastSeen

HEARTBEAT_FILE = "alerts_sensor.json"
EXPORT_FILE = "daily_summary_csv.json"


class LocalLivenessFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = str(directory)

    def heartbeat(self, at: datetime) -> None:
        self._replace(HEARTBEAT_FILE, {"at": at.isoformat()})

    def exported(self, days: list[date], today: date, at: datetime) -> None:
        self._replace(EXPORT_FILE, {"at": at.isoformat(), "day": max(days).isoformat()})

    def read(self, now: datetime | None = None, lookback: timedelta | None = None) -> LastSeen:
        """The last heartbeat and export recorded (the files hold the last only: no look-back)."""
        heartbeat, export = self._read(HEARTBEAT_FILE), self._read(EXPORT_FILE)
        return LastSeen(
            heartbeat_at=datetime.fromisoformat(heartbeat["at"]) if heartbeat else None,
            export_at=datetime.fromisoformat(export["at"]) if export else None,
            export_day=date.fromisoformat(export["day"]) if export else None,
        )

    def _read(self, name: str) -> dict | None:
        path = self.directory / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _replace(self, name: str, content: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=self.directory)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(content, handle)
            os.replace(temporary, self.directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
