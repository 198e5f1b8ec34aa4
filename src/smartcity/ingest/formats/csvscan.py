"""Counting the fields of every CSV record without parsing the values (to find ragged rows by number).

Polars reads a CSV fast but pads a short row with nulls without saying so, and an empty value is null too, so
a row that lost a field cannot be told from one with an empty last value. This scanner walks the bytes with
NumPy instead: a separator or newline counts only outside quotes, and whether a byte is inside quotes is the
parity of the quote characters before it (RFC 4180's doubled quote "" toggles twice and so changes nothing).
About 0.2 s for a 190 MB file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK = 16 * 1024 * 1024
QUOTE = ord('"')
NEWLINE = ord("\n")
RETURN = ord("\r")


@dataclass(frozen=True)
class Scan:
    """Per record (the header is record 0): the number of fields, whether it is blank, and its byte offset."""

    fields: np.ndarray  # int32
    blank: np.ndarray  # bool
    starts: np.ndarray  # int64
    unclosed_quote: bool

    @property
    def records(self) -> int:
        return len(self.fields)


def scan(path: Path, separator: str) -> Scan:
    """Field counts of every record of a UTF-8 CSV file with `separator`."""
    sep = ord(separator)
    fields: list[np.ndarray] = []
    blanks: list[np.ndarray] = []
    starts: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
    parity = 0
    pending_seps = 0  # separators of the record still open at the end of the previous chunk
    pending_bytes = 0  # bytes of that record so far (to tell a blank record)
    pending_last = -1  # its last byte
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            data = np.frombuffer(chunk, dtype=np.uint8)
            quotes = np.flatnonzero(data == QUOTE)
            seps = np.flatnonzero(data == sep)
            ends = np.flatnonzero(data == NEWLINE)
            if len(quotes):
                seps = seps[((np.searchsorted(quotes, seps) + parity) & 1) == 0]
                ends = ends[((np.searchsorted(quotes, ends) + parity) & 1) == 0]
                parity = (parity + len(quotes)) & 1
            elif parity:  # the whole chunk lies inside one quoted value
                seps = ends = np.zeros(0, dtype=np.int64)
            if len(ends):
                before = np.searchsorted(seps, ends)
                per = np.diff(np.concatenate(([0], before))).astype(np.int64)
                per[0] += pending_seps
                lengths = np.diff(np.concatenate(([-1], ends))) - 1
                lengths[0] += pending_bytes
                last = data[np.maximum(ends - 1, 0)].astype(np.int16)
                if ends[0] == 0:
                    last[0] = pending_last
                blank = (lengths == 0) | ((lengths == 1) & (last == RETURN))
                fields.append((per + 1).astype(np.int32))
                blanks.append(blank)
                starts.append(offset + ends + 1)
                pending_seps = len(seps) - int(before[-1])
                pending_bytes = len(data) - int(ends[-1]) - 1
                pending_last = int(data[-1]) if pending_bytes else -1
            else:
                pending_seps += len(seps)
                pending_bytes += len(data)
                pending_last = int(data[-1])
            offset += len(data)
    all_starts = np.concatenate(starts)
    if pending_bytes:  # a last record without a final newline
        fields.append(np.array([pending_seps + 1], dtype=np.int32))
        blanks.append(np.array([pending_bytes == 1 and pending_last == RETURN]))
    else:
        all_starts = all_starts[:-1]
    return Scan(
        fields=np.concatenate(fields) if fields else np.zeros(0, dtype=np.int32),
        blank=np.concatenate(blanks) if blanks else np.zeros(0, dtype=bool),
        starts=all_starts,
        unclosed_quote=bool(parity),
    )


def line_of(path: Path, offset: int) -> int:
    """The 1-based physical line number at byte `offset` (for messages about one record)."""
    line = 1
    with path.open("rb") as handle:
        remaining = offset
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            line += chunk.count(b"\n")
            remaining -= len(chunk)
    return line
