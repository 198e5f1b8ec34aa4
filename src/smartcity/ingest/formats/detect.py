"""What a submitted file is: XLSX, JSON Lines or CSV, and for text its encoding, told from the bytes.

The file name's extension is never trusted: a GBK export named .csv, a workbook renamed .csv and binary junk
named .csv all occur. Text is accepted in UTF-8 (with or without BOM), GB18030 (which contains GBK and GB2312;
the encoding Chinese Excel and WPS save CSV in) and UTF-16 with BOM; the decision is made by decoding the whole
file strictly, not by guessing from a sample.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

from smartcity.ingest.vocab import FileFormat
from smartcity.platform.errors import InvalidInput
from smartcity.platform.i18n import N_

SAMPLE = 64 * 1024
CHUNK = 4 * 1024 * 1024
SEPARATORS = (",", "\t", ";", "|")


class FileProblem(InvalidInput):
    """The submitted file as a whole cannot be read as a batch (encoding, format, header, ragged rows)."""

    slug = "bad-file"
    title = N_("The file cannot be read")


@dataclass(frozen=True)
class Detected:
    """The format and, for text, the encoding and (for CSV) the separator."""

    format: FileFormat
    encoding: str | None = None
    separator: str = ","


def _first_invalid(path: Path, encoding: str) -> tuple[int, int] | None:
    """(line, byte offset) of the first byte that is not valid in `encoding`, or None when the whole file is."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0  # bytes handed to the decoder so far
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.object is the decoder's pending bytes (an unfinished character) followed by this chunk.
                pending = len(exc.object) - len(chunk)
                return line + exc.object[: exc.start].count(b"\n"), offset - pending + exc.start
            line += chunk.count(b"\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return line, offset
    return None


def _decodes_as(path: Path, encoding: str) -> bool:
    return _first_invalid(path, encoding) is None


def _looks_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if (byte < 0x20 and byte not in (0x09, 0x0A, 0x0D)) or byte == 0x7F)
    return controls > max(8, len(sample) // 100)


def _separator(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def detect(path: Path, filename: str) -> Detected:
    """Tell the format and encoding of `path` from its content; FileProblem names what is wrong."""
    size = path.stat().st_size
    if size == 0:
        raise FileProblem(N_("The file '{name}' is empty."), field="file", name=filename)
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE)
    if sample.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            raise FileProblem(N_("'{name}' is a damaged ZIP archive."), field="file", name=filename) from None
        if "xl/workbook.xml" in names:
            return Detected(FileFormat.XLSX)
        raise FileProblem(
            N_("'{name}' is a ZIP archive but not an Excel workbook (.xlsx)."), field="file", name=filename
        )
    if sample.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise FileProblem(
            N_("'{name}' is an old Excel 97-2003 (.xls) or other Office binary file; save it as .xlsx or CSV."),
            field="file",
            name=filename,
        )
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if not _decodes_as(path, "utf-16"):
            raise FileProblem(N_("'{name}' starts like UTF-16 text but is not."), field="file", name=filename)
        encoding = "utf-16"
        text = sample.decode("utf-16", errors="ignore")
    else:
        if _looks_binary(sample):
            raise FileProblem(
                N_("'{name}' is a binary file, not CSV, JSON Lines or XLSX."), field="file", name=filename
            )
        bom = sample.startswith(codecs.BOM_UTF8)
        invalid = _first_invalid(path, "utf-8")
        if invalid is None:
            encoding = "utf-8-sig" if bom else "utf-8"
        elif not bom and _decodes_as(path, "gb18030"):
            encoding = "gb18030"
        else:
            line, offset = invalid
            raise FileProblem(
                N_(
                    "'{name}' is neither UTF-8 nor GBK/GB18030 text: the bytes at line {line} (offset {offset}) "
                    "are not valid in either; save the file as UTF-8 CSV."
                ),
                field="file",
                name=filename,
                line=line,
                offset=offset,
            )
        text = sample.decode(encoding, errors="ignore")
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise FileProblem(N_("The file '{name}' is empty."), field="file", name=filename)
    if stripped.startswith("{"):
        return Detected(FileFormat.JSONL, encoding)
    return Detected(FileFormat.CSV, encoding, _separator(stripped.split("\n", 1)[0]))


def transcode_to_utf8(path: Path, encoding: str, target: Path) -> Path:
    """A UTF-8 copy of a text file in another encoding (Polars reads UTF-8 only)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as sink:
        while chunk := source.read(CHUNK):
            sink.write(decoder.decode(chunk))
        sink.write(decoder.decode(b"", final=True))
    return target
