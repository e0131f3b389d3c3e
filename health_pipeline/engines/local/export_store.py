"""Exported files on the local disk, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from health_pipeline.stack import ExportedFile
from health_pipeline.summary.csv_format import summary_csv


class LocalExportStore:
    kinds: ClassVar[frozenset[str]] = frozenset({"csv"})

    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def write(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Write `data` at `key` below the root, replacing what was there in one atomic step (files
        have no content type: the argument is the S3 store's)."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(path)

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def keys(self, prefix: str) -> list[str]:
        """The keys (below the root) of the files under `prefix`."""
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def remove(self, key: str) -> bool:
        """Delete the file at `key`; False when there was none."""
        try:
            (self.root / key).unlink()
        except FileNotFoundError:
            return False
        return True

    def export_summary(self, key: str, rows: pa.Table) -> ExportedFile:
        """The summary rows as the contract's CSV at `key`, replacing the previous file atomically."""
        data = summary_csv(rows)
        return ExportedFile(self.write(key, data), len(data), "written")


def export_root(export_uri: str) -> Path:
    """The local directory of HEALTH_PIPELINE_EXPORT_URI (a path or a file:// URI)."""
    if export_uri.startswith("file://"):
        return Path(export_uri[len("file://") :])
    if "://" in export_uri:
        raise ValueError(
            f"HEALTH_PIPELINE_EXPORT_URI={export_uri!r} is not a local path; in local mode exports go to files"
            " (unset it, or set HEALTH_PIPELINE_MODE=aws for S3)"
        )
    return Path(export_uri)
