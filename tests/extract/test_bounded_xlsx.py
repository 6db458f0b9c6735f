"""Workbooks are read within bounds: a zip bomb is refused before it unpacks, a cell longer than a CSV
field is refused after a bounded read, and sheets the contract does not read are named."""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from extract.readers import open_export, read_export
from extract.tabular import MAX_FIELD_BYTES, XlsxCheck, check_workbook
from schemas.contracts import Source
from schemas.errors import InputFileError
from tests.robustness.corpus import STATUS_HEADER, status_row, write_xlsx


def _bomb(path: Path, cell_bytes: int) -> Path:
    """A real workbook (written by openpyxl) whose first sheet's one inline cell is `cell_bytes` long."""
    write_xlsx(path.with_suffix(".base.xlsx"), STATUS_HEADER, [status_row(1)])
    with (
        zipfile.ZipFile(path.with_suffix(".base.xlsx")) as base,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for info in base.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(info, base.read(info))
                continue
            head, _, _ = base.read(info).decode().partition("</sheetData>")
            with bomb.open(info.filename, "w", force_zip64=True) as part:
                part.write(head.encode() + b'<row r="3"><c r="A3" t="inlineStr"><is><t>')
                block = b"A" * (1 << 20)
                for _ in range(cell_bytes >> 20):
                    part.write(block)
                part.write(b"</t></is></c></row></sheetData></worksheet>")
    return path


@pytest.fixture(scope="module")
def bomb_2gb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bomb(tmp_path_factory.mktemp("bomb") / "bomb.xlsx", 2 << 30)


def test_a_2mb_workbook_that_unpacks_to_2gb_is_refused_without_unpacking(bomb_2gb: Path) -> None:
    assert bomb_2gb.stat().st_size < 3 << 20
    tracemalloc.start()
    try:
        with pytest.raises(
            InputFileError, match=r"bomb\.xlsx: the workbook's part 'xl/worksheets/sheet1\.xml'"
        ):
            open_export(bomb_2gb, Source.STATUS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_a_cell_longer_than_a_field_is_refused_after_a_bounded_read(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "long.xlsx", 200 << 20)  # under the part limit: the cell limit refuses it
    progress = XlsxCheck()
    tracemalloc.start()
    try:
        with pytest.raises(InputFileError, match=r"long\.xlsx: .* holds a text of more than 1 MB"):
            check_workbook(path, progress)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Refused once the cell passed the field limit: a few megabytes inflated of its 200, in a few held.
    assert MAX_FIELD_BYTES < progress.inflated < MAX_FIELD_BYTES + (4 << 20)
    assert peak < 16 << 20
    with pytest.raises(InputFileError, match="holds a text of more than 1 MB"):
        open_export(path, Source.STATUS)


def test_other_non_empty_sheets_are_named_with_their_rows(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    for row in [STATUS_HEADER, status_row(1), status_row(2)]:
        first.append(row)
    notes = workbook.create_sheet("Anteckningar")
    for n in range(7):
        notes.append([f"rad {n}", n])
    workbook.create_sheet("Tom")  # empty: not worth a word
    path = tmp_path / "two.xlsx"
    workbook.save(path)
    export = open_export(path, Source.STATUS)
    assert sum(len(b.facts) for b in read_export(export)) == 2
    assert export.facts.notes == [
        "only the first sheet is read: the workbook's other sheets are ignored: 'Anteckningar' (7 rows)"
    ]
