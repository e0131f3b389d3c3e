"""What every engine returns or raises, whichever system runs the query."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


class QueryFailed(RuntimeError):
    """A query did not succeed; the message says which query, why, and what to do."""


@dataclass
class QueryResult:
    query_id: str
    rows: pa.Table
    sql: str
    bytes_scanned: int
    files_scanned: int
    elapsed_s: float
    engine: str
    result_location: str | None = None
    cost_usd: float | None = None
    extra: dict = field(default_factory=dict)

    def metadata(self) -> dict:
        meta = {
            "query_id": self.query_id,
            "engine": self.engine,
            "bytes_scanned": self.bytes_scanned,
            "files_scanned": self.files_scanned,
            "elapsed_s": round(self.elapsed_s, 3),
        }
        if self.result_location:
            meta["result_location"] = self.result_location
        if self.cost_usd is not None:
            meta["cost_usd"] = self.cost_usd
        meta.update(self.extra)
        return meta
