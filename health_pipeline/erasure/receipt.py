"""What an erasure keeps: a receipt that says what was done, and never whom it was for in the clear
nor any health value (user ids only as SHA-256 hex digests)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from health_pipeline.sql.render import user_id_sha256

RECEIPTS_KEY = "erasure/receipts"


def hashed_user_id(user_id: str) -> str:
    """The hex SHA-256 of the id's UTF-8 bytes (what Athena's to_hex(sha256(to_utf8(user_id))) gives)."""
    return user_id_sha256(user_id)


@dataclass
class ErasureReceipt:
    request_id: str
    requested_at: str  # ISO 8601, UTC
    completed_at: str
    mode: str
    user_id_sha256: list[str]
    reason: str | None
    rows_deleted: dict[str, int] = field(default_factory=dict)  # per store
    days_reexported: list[str] = field(default_factory=list)
    bytes_gone_by: str = ""  # ISO 8601, UTC: when no stored byte of the rows remains
    details: dict[str, object] = field(default_factory=dict)
    location: str | None = None

    def as_json(self) -> bytes:
        document = {k: v for k, v in asdict(self).items() if k != "location"}
        return (json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")

    @property
    def key(self) -> str:
        return f"{RECEIPTS_KEY}/{self.requested_at[:10]}/{self.request_id}.json"
