"""Writing export files: `;`-separated CSV in chunks (pyarrow joins the columns in C++) and small xlsx files.

Values arrive already formatted as text; a value that must be quoted (a `;` inside, or a planted quoted
field) arrives with its quotes, so the writer only joins. Nothing here depends on the wall clock, so the
same data gives byte-identical files.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook

CHUNK_ROWS = 250_000
FIXED_TIME = datetime(2000, 1, 1)


def write_csv(
    path: Path,
    header: Sequence[str],
    columns: Sequence[pa.Array],
    *,
    encoding: str,
    newline: str,
    bom: bool = False,
) -> int:
    """Write the file and return the number of data lines."""
    n = len(columns[0]) if columns else 0
    with path.open("wb") as out:
        if bom:
            out.write(b"\xef\xbb\xbf")
        out.write((";".join(header) + newline).encode(encoding))
        for start in range(0, n, CHUNK_ROWS):
            parts = [c.slice(start, CHUNK_ROWS).fill_null("") for c in columns]
            lines = pc.binary_join_element_wise(*parts, ";")
            out.write("".join(line + newline for line in lines.to_pylist()).encode(encoding))
    return n


def write_xlsx(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], sheet: str = "Export"
) -> int:
    """First sheet, header in row 1; datetimes become real Excel date cells."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.properties.creator = "lofte sample"
    wb.properties.created = FIXED_TIME
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_normalised_zip(buffer.getvalue()))
    return len(rows)


def _normalised_zip(data: bytes) -> bytes:
    """openpyxl stamps the save time into docProps/core.xml and every zip entry: replace both by a fixed
    time so that the same arguments give the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2000-01-01T00:00:00Z", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, content)
    return out.getvalue()
