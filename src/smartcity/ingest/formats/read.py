"""Reading a detected file into a frame of text columns, one per header, with the row numbers people see.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2 (for JSON Lines the
line number). Values stay text here; types are checked against the schema later, so a bad value becomes a
reported problem of its row instead of a failed file. Anything that makes the file as a whole unreadable
(ragged rows, an unclosed quote, duplicate or empty headers, merged header cells) is a FileProblem naming the
row, line or column.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from smartcity.ingest.formats import csvscan
from smartcity.ingest.formats.detect import Detected, FileProblem, transcode_to_utf8
from smartcity.ingest.vocab import FileFormat
from smartcity.platform.i18n import N_

ROW = "__row"
MAX_EXAMPLES = 5
MAX_COLUMNS = 500
PREVIEW_LINES = 1000  # lines of a JSON Lines file whose keys the mapping step offers


@dataclass
class RawTable:
    """The file's headers and its records as text, with `__row` holding each record's row number."""

    headers: list[str]
    frame: pl.DataFrame


def _check_headers(headers: list[str], filename: str) -> list[str]:
    cleaned = [h.strip().lstrip("\ufeff").strip() for h in headers]
    if len(cleaned) > MAX_COLUMNS:
        raise FileProblem(
            N_("'{name}' has {count} columns; at most {limit} are accepted."),
            field="file",
            name=filename,
            count=len(cleaned),
            limit=MAX_COLUMNS,
        )
    seen: dict[str, int] = {}
    for index, header in enumerate(cleaned, start=1):
        if not header:
            raise FileProblem(
                N_("Column {column} of '{name}' has no header."), field="file", column=index, name=filename
            )
        if header in seen:
            raise FileProblem(
                N_("The header '{header}' appears twice in '{name}' (columns {first} and {second})."),
                field="file",
                header=header,
                name=filename,
                first=seen[header],
                second=index,
            )
        seen[header] = index
    return cleaned


def _utf8_path(path: Path, detected: Detected, workdir: Path) -> Path:
    if detected.encoding in (None, "utf-8", "utf-8-sig"):
        return path
    return transcode_to_utf8(path, detected.encoding, workdir / f"{path.name}.utf8")


def read_csv(path: Path, detected: Detected, filename: str, workdir: Path) -> RawTable:
    """A CSV file's records; ragged rows and an unclosed quote are refused with their row numbers."""
    source = _utf8_path(path, detected, workdir)
    scan = csvscan.scan(source, detected.separator)
    if scan.unclosed_quote:
        line = csvscan.line_of(source, int(scan.starts[-1]))
        raise FileProblem(
            N_("A quoted value in '{name}' is never closed (the record starting at line {line})."),
            field="file",
            name=filename,
            line=line,
        )
    nonblank = np.flatnonzero(~scan.blank)
    if len(nonblank) == 0:
        raise FileProblem(N_("The file '{name}' is empty."), field="file", name=filename)
    header_index = int(nonblank[0])
    with source.open("rb") as handle:
        handle.seek(int(scan.starts[header_index]))
        end = int(scan.starts[header_index + 1]) if header_index + 1 < scan.records else None
        header_bytes = handle.read(end - int(scan.starts[header_index]) if end is not None else -1)
    header_text = header_bytes.decode("utf-8-sig").rstrip("\r\n")
    headers = _check_headers(next(csv.reader(io.StringIO(header_text), delimiter=detected.separator)), filename)
    width = len(headers)
    data_fields = scan.fields[header_index + 1 :]
    data_blank = scan.blank[header_index + 1 :]
    ragged = np.flatnonzero((data_fields != width) & ~data_blank)
    if len(ragged):
        examples = [str(header_index + 2 + int(i)) for i in ragged[:MAX_EXAMPLES]]
        first = int(ragged[0])
        raise FileProblem(
            N_(
                "Row {row} of '{name}' has {count} values but the header has {width} columns "
                "({total} rows like this, e.g. rows {examples})."
            ),
            field="file",
            row=header_index + 2 + first,
            name=filename,
            count=int(data_fields[first]),
            width=width,
            total=len(ragged),
            examples=", ".join(examples),
        )
    if not (~data_blank).any():
        raise FileProblem(N_("'{name}' has a header but no records."), field="file", name=filename)
    frame = pl.read_csv(
        source,
        has_header=False,
        skip_rows=header_index + 1,
        new_columns=headers,
        infer_schema=False,
        separator=detected.separator,
        quote_char='"',
        raise_if_empty=False,
    )
    if frame.height != len(data_fields):
        raise FileProblem(
            N_("'{name}' could not be read consistently ({read} records read, {counted} counted)."),
            field="file",
            name=filename,
            read=frame.height,
            counted=len(data_fields),
        )
    rows = pl.Series(ROW, np.arange(header_index + 2, header_index + 2 + frame.height, dtype=np.int64))
    frame = frame.with_columns(rows).filter(pl.Series(~data_blank))
    return RawTable(headers=headers, frame=frame)


MERGE_REF = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _first_sheet_part(archive: zipfile.ZipFile) -> str:
    workbook = archive.read("xl/workbook.xml").decode("utf-8", errors="replace")
    match = re.search(r'<sheet [^>]*r:id="([^"]+)"', workbook)
    if match:
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", errors="replace")
        for rel in re.finditer(r"<Relationship [^>]*>", rels):
            if f'Id="{match.group(1)}"' in rel.group(0):
                target = re.search(r'Target="([^"]+)"', rel.group(0))
                if target:
                    part = target.group(1).lstrip("/")
                    return part if part.startswith("xl/") else f"xl/{part}"
    return "xl/worksheets/sheet1.xml"


def merged_header_cells(path: Path) -> list[str]:
    """Merged ranges of the first worksheet that touch its first row (e.g. ['A1:C1'])."""
    found: list[str] = []
    with zipfile.ZipFile(path) as archive:
        part = _first_sheet_part(archive)
        if part not in archive.namelist():
            return found
        tail = b""
        with archive.open(part) as sheet:
            while chunk := sheet.read(1024 * 1024):
                window = tail + chunk
                for match in MERGE_REF.finditer(window):
                    if int(match.group(2)) == 1:
                        first, last = match.group(1) + match.group(2), match.group(3) + match.group(4)
                        ref = f"{first.decode()}:{last.decode()}"
                        if ref not in found:
                            found.append(ref)
                tail = window[-200:]
    return found


def _load_sheet(path: Path, filename: str, rows: int | None = None) -> RawTable:
    """The first worksheet (or its first `rows` records) as text columns under checked headers."""
    import fastexcel

    merged = merged_header_cells(path)
    if merged:
        raise FileProblem(
            N_(
                "The header row of '{name}' has merged cells ({cells}); unmerge them so that every column has its "
                "own header."
            ),
            field="file",
            name=filename,
            cells=", ".join(merged),
        )
    try:
        frame = fastexcel.read_excel(str(path)).load_sheet(0, header_row=0, n_rows=rows, dtypes="string").to_polars()
    except Exception as exc:
        raise FileProblem(
            N_("'{name}' could not be read as a workbook: {problem}"),
            field="file",
            name=filename,
            problem=str(exc).splitlines()[0][:200],
        ) from None
    headers = _check_headers([str(c) for c in frame.columns], filename)
    unnamed = [i for i, h in enumerate(headers, start=1) if re.fullmatch(r"__UNNAMED__\d+", h)]
    if unnamed:
        raise FileProblem(
            N_("Column {column} of '{name}' has no header."), field="file", column=unnamed[0], name=filename
        )
    frame = frame.rename(dict(zip(frame.columns, headers, strict=True))).with_columns(pl.all().cast(pl.String))
    return RawTable(headers=headers, frame=frame)


def read_xlsx(path: Path, filename: str) -> RawTable:
    """The first worksheet of a workbook; the header must be its first row, without merged cells."""
    sheet = _load_sheet(path, filename)
    headers = sheet.headers
    frame = sheet.frame.with_columns(pl.Series(ROW, np.arange(2, 2 + sheet.frame.height, dtype=np.int64)))
    frame = frame.filter(~pl.all_horizontal(pl.col(h).is_null() for h in headers))
    if frame.height == 0:
        raise FileProblem(N_("'{name}' has a header but no records."), field="file", name=filename)
    return RawTable(headers=headers, frame=frame)


def _json_value(value: Any, key: str, line: int, filename: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise FileProblem(
        N_("Line {line} of '{name}': '{key}' holds a list or object; only flat values are accepted."),
        field="file",
        line=line,
        name=filename,
        key=key,
    )


def _json_lines(lines: Iterable[str], filename: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of JSON Lines with their line numbers; blank lines skipped, anything else refused."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FileProblem(
                N_("Line {line} of '{name}' is not valid JSON: {problem}."),
                field="file",
                line=number,
                name=filename,
                problem=exc.msg,
            ) from None
        if not isinstance(record, dict):
            raise FileProblem(
                N_("Line {line} of '{name}' is not a JSON object."), field="file", line=number, name=filename
            )
        yield number, record


def _jsonl_table(lines: Iterable[str], filename: str) -> RawTable:
    """One flat object per line; keys become headers in the order they first appear."""
    headers: dict[str, None] = {}
    columns: dict[str, list[str | None]] = {}
    rows: list[int] = []
    for number, record in _json_lines(lines, filename):
        for key in record:
            if key not in headers:
                headers[key] = None
                columns[key] = [None] * len(rows)
        for key, values in columns.items():
            values.append(_json_value(record.get(key), key, number, filename))
        rows.append(number)
    if not rows:
        raise FileProblem(N_("The file '{name}' is empty."), field="file", name=filename)
    names = _check_headers(list(headers), filename)
    frame = pl.DataFrame(
        {name: pl.Series(name, columns[key], dtype=pl.String) for name, key in zip(names, headers, strict=True)}
    ).with_columns(pl.Series(ROW, rows, dtype=pl.Int64))
    return RawTable(headers=names, frame=frame)


def read_jsonl(path: Path, detected: Detected, filename: str, workdir: Path) -> RawTable:
    """JSON Lines: one flat object per line; keys become headers in the order they first appear."""
    with _utf8_path(path, detected, workdir).open(encoding="utf-8-sig") as handle:
        return _jsonl_table(handle, filename)


def read_table(path: Path, detected: Detected, filename: str, workdir: Path) -> RawTable:
    """The records of a file in any accepted format."""
    if detected.format is FileFormat.XLSX:
        return read_xlsx(path, filename)
    if detected.format is FileFormat.JSONL:
        return read_jsonl(path, detected, filename, workdir)
    return read_csv(path, detected, filename, workdir)


def preview(path: Path, detected: Detected, filename: str, rows: int = 5) -> RawTable:
    """The headers and first records of a file, cheaply (for choosing the column mapping)."""
    if detected.format is FileFormat.XLSX:
        return _load_sheet(path, filename, rows)
    encoding = "utf-8-sig" if detected.encoding in (None, "utf-8", "utf-8-sig") else detected.encoding
    with path.open(encoding=encoding, newline="") as handle:
        if detected.format is FileFormat.JSONL:
            # Headers from the first lines, so that a key the first records lack is still offered.
            table = _jsonl_table(itertools.islice(handle, PREVIEW_LINES), filename)
            return RawTable(headers=table.headers, frame=table.frame.head(rows).drop(ROW))
        reader = csv.reader(handle, delimiter=detected.separator)
        found: list[list[str]] = []
        for record in reader:
            if not record or (not any(v.strip() for v in record) and not found):
                continue
            found.append(record)
            if len(found) > rows:
                break
    if not found:
        raise FileProblem(N_("The file '{name}' is empty."), field="file", name=filename)
    headers = _check_headers(found[0], filename)
    data = {h: [r[i] if i < len(r) else None for r in found[1:]] for i, h in enumerate(headers)}
    return RawTable(headers=headers, frame=pl.DataFrame(data, schema=dict.fromkeys(headers, pl.String)))
