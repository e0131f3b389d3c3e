"""JSON Lines as blocks: the bytes of many lines with their offsets and where each came from (file
and line number), read from a stream into blocks of about `BLOCK_BYTES`, or made from (where, line)
pairs. `json_lines.check_lines` checks a block at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

BLOCK_BYTES = 16 << 20


@dataclass
class LineBlock:
    """Whole lines of one source: line i is `data[offsets[i]:offsets[i+1]]` and ends in "\\n"."""

    data: bytes | bytearray  # never changed once the block is made
    offsets: np.ndarray
    source: str = ""
    first_line: int = 1
    wheres: Sequence[str] | None = None
    added_newline: frozenset[int] = frozenset()  # lines that had no "\n" in the source (one was added)
    irregular: np.ndarray | None = None  # lines holding another "\n" inside (only from send_lines pairs)

    @classmethod
    def of(cls, data: bytes | bytearray, source: str = "", wheres: Sequence[str] | None = None) -> LineBlock:
        """A block of `data`, whole lines each ending in "\\n"."""
        return cls(data, newline_offsets(data), source, wheres=wheres)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def where(self, i: int) -> str:
        """Where line i came from: FILE:LINE, or the reference its producer gave."""
        return self.wheres[i] if self.wheres is not None else f"{self.source}:{self.first_line + i}"

    def line(self, i: int) -> bytes:
        return bytes(self.data[self.offsets[i] : self.offsets[i + 1]])

    def raw_line(self, i: int) -> bytes:
        """Line i as received (without a "\\n" this side added)."""
        line = self.line(i)
        return line[:-1] if i in self.added_newline else line


def newline_offsets(data: bytes | bytearray) -> np.ndarray:
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n")) + 1
    return np.concatenate((np.zeros(1, np.int64), ends.astype(np.int64)))


def read_blocks(stream: BinaryIO, name: str, block_bytes: int = BLOCK_BYTES) -> Iterator[LineBlock]:
    """The lines of a binary stream in blocks of about `block_bytes`; a last line without "\\n" gets one.
    Each block is read straight into its own buffer, after the line the previous one cut."""
    carry = b""
    first = 1
    while True:
        buffer = bytearray(len(carry) + block_bytes)
        buffer[: len(carry)] = carry
        size = len(carry) + _read_into(stream, memoryview(buffer)[len(carry) :])
        if size == len(carry):
            if carry:
                data = carry + b"\n"
                yield LineBlock(data, newline_offsets(data), name, first, added_newline=frozenset({0}))
            return
        del buffer[size:]
        cut = buffer.rfind(b"\n") + 1
        carry = bytes(buffer[cut:])
        if cut == 0:
            continue
        del buffer[cut:]
        block = LineBlock(buffer, newline_offsets(buffer), name, first)
        first += len(block)
        yield block


def _read_into(stream: BinaryIO, target: memoryview) -> int:
    """Fill `target` from `stream` as `read(len(target))` would; the byte count (0 at the end)."""
    if hasattr(stream, "readinto"):
        return stream.readinto(target) or 0
    chunk = stream.read(len(target))
    target[: len(chunk)] = chunk
    return len(chunk)


def blocks_from_pairs(
    pairs: Iterable[tuple[str, bytes]], block_bytes: int = BLOCK_BYTES, max_lines: int = 65_536
) -> Iterator[LineBlock]:
    """(where, line) pairs as blocks; each line is one record, "\\n" added where it has none."""
    lines: list[bytes] = []
    wheres: list[str] = []
    added: set[int] = set()
    size = 0
    for where, line in pairs:
        if not line.endswith(b"\n"):
            added.add(len(lines))
            line += b"\n"
        lines.append(line)
        wheres.append(where)
        size += len(line)
        if size >= block_bytes or len(lines) >= max_lines:
            yield _pairs_block(lines, wheres, added)
            lines, wheres, added, size = [], [], set(), 0
    if lines:
        yield _pairs_block(lines, wheres, added)


def _pairs_block(lines: list[bytes], wheres: list[str], added: set[int]) -> LineBlock:
    lengths = np.fromiter((len(line) for line in lines), np.int64, len(lines))
    offsets = np.concatenate((np.zeros(1, np.int64), np.cumsum(lengths)))
    irregular = np.fromiter((line.count(b"\n") != 1 for line in lines), bool, len(lines))
    return LineBlock(b"".join(lines), offsets, wheres=wheres, added_newline=frozenset(added), irregular=irregular)
