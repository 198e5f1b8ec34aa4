"""Reading submitted files: format and encoding from the bytes, row numbers as a spreadsheet shows them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcity.ingest.formats import csvscan
from smartcity.ingest.formats.detect import Detected, FileProblem, detect
from smartcity.ingest.formats.read import RawTable, merged_header_cells, preview, read_table
from smartcity.ingest.vocab import FileFormat


def write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def load(folder: Path, name: str, content: bytes) -> tuple[Detected, RawTable]:
    """Detect and read `content` saved as `name`, as a batch would."""
    path = write(folder, name, content)
    detected = detect(path, name)
    return detected, read_table(path, detected, name, folder)


def refusal(folder: Path, name: str, content: bytes) -> str:
    """The message of the FileProblem that detecting or reading `content` raises."""
    with pytest.raises(FileProblem) as info:
        load(folder, name, content)
    assert info.value.field == "file"
    return str(info.value)


def records(table: RawTable) -> list[dict[str, object]]:
    return table.frame.to_dicts()


# --- encodings and separators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("姓名,地址\n张三,余姚市阳明街道\n".encode(), "utf-8"),
        ("\ufeff姓名,地址\n张三,余姚市阳明街道\n".encode(), "utf-8-sig"),
        ("姓名,地址\r\n张三,余姚市阳明街道\r\n".encode("gbk"), "gb18030"),
    ],
    ids=["utf-8", "utf-8-bom", "gbk"],
)
def test_text_encodings_are_told_from_the_bytes(tmp_path: Path, content: bytes, encoding: str) -> None:
    detected, table = load(tmp_path, "people.csv", content)
    assert detected == Detected(FileFormat.CSV, encoding, ",")
    assert table.headers == ["姓名", "地址"]
    assert records(table) == [{"姓名": "张三", "地址": "余姚市阳明街道", "__row": 2}]


def test_gb18030_character_outside_gbk_survives(tmp_path: Path) -> None:
    content = "名称,备注\n𠀀,一\n".encode("gb18030")
    with pytest.raises(UnicodeEncodeError):
        "𠀀".encode("gbk")
    detected, table = load(tmp_path, "rare.csv", content)
    assert detected.encoding == "gb18030"
    assert records(table) == [{"名称": "𠀀", "备注": "一", "__row": 2}]


def test_utf16_with_bom_and_tabs(tmp_path: Path) -> None:
    detected, table = load(tmp_path, "wps.csv", "姓名\t年龄\r\n张三\t30\r\n李四\t41\r\n".encode("utf-16"))
    assert detected == Detected(FileFormat.CSV, "utf-16", "\t")
    assert records(table) == [
        {"姓名": "张三", "年龄": "30", "__row": 2},
        {"姓名": "李四", "年龄": "41", "__row": 3},
    ]


def test_tab_separated_utf8(tmp_path: Path) -> None:
    detected, table = load(tmp_path, "tabs.csv", b"a\tb\n1,5\t2\n")
    assert detected.separator == "\t"
    assert records(table) == [{"a": "1,5", "b": "2", "__row": 2}]


def test_bytes_in_neither_utf8_nor_gb18030_name_line_and_offset(tmp_path: Path) -> None:
    message = refusal(tmp_path, "broken.csv", b"a,b\n1,2\n\xff\xfe\xff\n")
    assert "'broken.csv' is neither UTF-8 nor GBK/GB18030" in message
    assert "line 3 (offset 8)" in message


# --- files that are not tables --------------------------------------------------------------------------------


def test_binary_junk_named_csv(tmp_path: Path) -> None:
    message = refusal(tmp_path, "junk.csv", bytes(range(256)) * 8)
    assert message == "'junk.csv' is a binary file, not CSV, JSON Lines or XLSX."


@pytest.mark.parametrize("content", [b"", b"\n\r\n  \n"], ids=["zero-bytes", "blank-lines"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    assert refusal(tmp_path, "empty.csv", content) == "The file 'empty.csv' is empty."


def test_legacy_xls_signature(tmp_path: Path) -> None:
    content = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    message = refusal(tmp_path, "old.xls", content)
    assert message.startswith("'old.xls' is an old Excel 97-2003 (.xls)")
    assert "save it as .xlsx or CSV" in message


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    message = refusal(tmp_path, "export.xlsx", buffer.getvalue())
    assert message == "'export.xlsx' is a ZIP archive but not an Excel workbook (.xlsx)."


def test_damaged_zip(tmp_path: Path) -> None:
    message = refusal(tmp_path, "cut.xlsx", b"PK\x03\x04" + b"\x01" * 300)
    assert message == "'cut.xlsx' is a damaged ZIP archive."


# --- headers --------------------------------------------------------------------------------------------------


def test_header_only(tmp_path: Path) -> None:
    assert refusal(tmp_path, "head.csv", b"a,b\n\n") == "'head.csv' has a header but no records."


def test_duplicate_header_names_both_columns(tmp_path: Path) -> None:
    message = refusal(tmp_path, "dup.csv", b"a,b,a\n1,2,3\n")
    assert message == "The header 'a' appears twice in 'dup.csv' (columns 1 and 3)."


def test_empty_header_cell_names_the_column(tmp_path: Path) -> None:
    assert refusal(tmp_path, "gap.csv", b"a, ,c\n1,2,3\n") == "Column 2 of 'gap.csv' has no header."


# --- records and row numbers ----------------------------------------------------------------------------------


def test_row_with_too_many_values(tmp_path: Path) -> None:
    message = refusal(tmp_path, "wide.csv", b"a,b\n1,2\n3,4,5\n")
    assert message.startswith("Row 3 of 'wide.csv' has 3 values but the header has 2 columns")
    assert "e.g. rows 3)" in message


def test_rows_with_too_few_values_all_listed(tmp_path: Path) -> None:
    message = refusal(tmp_path, "short.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n9\n")
    assert message.startswith("Row 3 of 'short.csv' has 2 values but the header has 3 columns")
    assert "(2 rows like this, e.g. rows 3, 5)" in message


def test_unclosed_quote_names_the_line(tmp_path: Path) -> None:
    message = refusal(tmp_path, "quote.csv", b'a,b\n1,2\n3,"never closed\n4,5\n')
    assert message == "A quoted value in 'quote.csv' is never closed (the record starting at line 3)."


def test_quoted_newlines_and_doubled_quotes(tmp_path: Path) -> None:
    content = 'a,b\n1,"第一行\n第二行"\n2,"say ""hi"", ok"\n3,z'.encode()
    _, table = load(tmp_path, "quoted.csv", content)
    assert records(table) == [
        {"a": "1", "b": "第一行\n第二行", "__row": 2},
        {"a": "2", "b": 'say "hi", ok', "__row": 3},
        {"a": "3", "b": "z", "__row": 4},
    ]


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    _, table = load(tmp_path, "gaps.csv", b"a,b\r\n1,2\r\n\r\n3,4\n\n5,6\n")
    assert records(table) == [
        {"a": "1", "b": "2", "__row": 2},
        {"a": "3", "b": "4", "__row": 4},
        {"a": "5", "b": "6", "__row": 6},
    ]


def test_csv_preview_reads_the_first_records(tmp_path: Path) -> None:
    path = write(tmp_path, "many.csv", "\n编号,名称\n1,甲\n2,乙\n3,丙\n".encode("gbk"))
    table = preview(path, detect(path, "many.csv"), "many.csv", rows=2)
    assert table.headers == ["编号", "名称"]
    assert table.frame.to_dicts() == [{"编号": "1", "名称": "甲"}, {"编号": "2", "名称": "乙"}]


# --- workbooks ------------------------------------------------------------------------------------------------


def test_xlsx_values_arrive_as_text(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["身份证号", "出生日期", "姓名", "金额"])
    sheet.append([330281199001011234, dt.date(1990, 1, 1), "张三", 12.5])
    sheet.append([None, None, None, None])
    sheet.append(["330281199001011234", dt.date(2000, 2, 29), "李四", 3])
    workbook.save(tmp_path / "people.xlsx")
    detected = detect(tmp_path / "people.xlsx", "people.xlsx")
    assert detected == Detected(FileFormat.XLSX)
    table = read_table(tmp_path / "people.xlsx", detected, "people.xlsx", tmp_path)
    assert table.headers == ["身份证号", "出生日期", "姓名", "金额"]
    # An ID typed into Excel as a number is a float: its last digits are already gone in the file.
    assert records(table) == [
        {
            "身份证号": "330281199001011328",
            "出生日期": "1990-01-01 00:00:00",
            "姓名": "张三",
            "金额": "12.5",
            "__row": 2,
        },
        {"身份证号": "330281199001011234", "出生日期": "2000-02-29 00:00:00", "姓名": "李四", "金额": "3", "__row": 4},
    ]


def test_xlsx_merged_header_cells_are_named(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["地址", None, "姓名"])
    sheet.append(["省", "市", "张三"])
    sheet.append(["a", "b", "c"])
    sheet.merge_cells("A1:B1")
    sheet.merge_cells("A3:B3")
    path = tmp_path / "merged.xlsx"
    workbook.save(path)
    assert merged_header_cells(path) == ["A1:B1"]
    message = refusal(tmp_path, "merged.xlsx", path.read_bytes())
    assert message.startswith("The header row of 'merged.xlsx' has merged cells (A1:B1)")
    with pytest.raises(FileProblem, match=r"merged cells \(A1:B1\)"):
        preview(path, Detected(FileFormat.XLSX), "merged.xlsx")


# --- JSON Lines -----------------------------------------------------------------------------------------------


def test_json_lines_flat_objects(tmp_path: Path) -> None:
    content = '{"a": 1, "b": true}\n\n{"a": "余姚", "c": null, "d": 1.5}\n'.encode()
    detected, table = load(tmp_path, "records.jsonl", content)
    assert detected == Detected(FileFormat.JSONL, "utf-8")
    assert table.headers == ["a", "b", "c", "d"]
    assert records(table) == [
        {"a": "1", "b": "true", "c": None, "d": None, "__row": 1},
        {"a": "余姚", "b": None, "c": None, "d": "1.5", "__row": 3},
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"a": 1}\n{"a":\n', "Line 2 of 'x.jsonl' is not valid JSON: Expecting value."),
        (
            b'{"a": 1}\n{"a": [1, 2]}\n',
            "Line 2 of 'x.jsonl': 'a' holds a list or object; only flat values are accepted.",
        ),
        (b'{"a": 1}\n\n[1, 2]\n', "Line 3 of 'x.jsonl' is not a JSON object."),
    ],
    ids=["invalid-json", "nested-list", "not-an-object"],
)
def test_json_lines_refusals_name_the_line(tmp_path: Path, content: bytes, expected: str) -> None:
    assert refusal(tmp_path, "x.jsonl", content) == expected


def test_json_lines_preview_offers_every_early_key_and_the_first_records(tmp_path: Path) -> None:
    lines = [{" 姓名 ": "张三", "年龄": 30}, *({" 姓名 ": f"人{i}"} for i in range(8)), {"电话": "0574-62701234"}]
    content = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode("gb18030")
    path = write(tmp_path, "p.jsonl", content)
    detected = detect(path, "p.jsonl")
    assert detected.encoding == "gb18030"
    head = preview(path, detected, "p.jsonl", rows=2)
    assert head.headers == ["姓名", "年龄", "电话"]
    assert head.frame.to_dicts() == [
        {"姓名": "张三", "年龄": "30", "电话": None},
        {"姓名": "人0", "年龄": None, "电话": None},
    ]
    with pytest.raises(FileProblem, match=r"^Line 2 of 'q.jsonl': 'a' holds a list"):
        preview(write(tmp_path, "q.jsonl", b'{"a": 1}\n{"a": [1]}\n'), Detected(FileFormat.JSONL, "utf-8"), "q.jsonl")


# --- the field counter ----------------------------------------------------------------------------------------

CELL = st.text(alphabet=st.sampled_from(list('ab,"\n\r 余姚市')), max_size=6)


def reference_counts(text: str, separator: str) -> list[int]:
    return [len(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator)]


def scanned_counts(folder: Path, text: str, separator: str) -> list[int]:
    path = folder / "scan.csv"
    path.write_bytes(text.encode())
    result = csvscan.scan(path, separator)
    assert not result.unclosed_quote
    assert len(result.starts) == result.records
    return np.where(result.blank, 0, result.fields).tolist()


@pytest.mark.parametrize("chunk", [1, 2, 7, csvscan.CHUNK])
@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, max_size=4), min_size=1, max_size=8),
    separator=st.sampled_from([",", "\t", ";"]),
    terminator=st.sampled_from(["\r\n", "\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    final_newline=st.booleans(),
)
def test_scan_counts_fields_like_the_csv_module(
    tmp_path_factory: pytest.TempPathFactory,
    chunk: int,
    rows: list[list[str]],
    separator: str,
    terminator: str,
    quoting: int,
    final_newline: bool,
) -> None:
    if terminator == "\n":
        # csv.writer quotes only the characters of its line terminator: a bare CR would be left unquoted.
        rows = [[cell.replace("\r", "") for cell in row] for row in rows]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=separator, lineterminator=terminator, quoting=quoting).writerows(rows)
    text = buffer.getvalue()
    if not final_newline:
        text = text.removesuffix(terminator)
    folder = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csvscan, "CHUNK", chunk)
        assert scanned_counts(folder, text, separator) == reference_counts(text, separator)
