"""Read an export file (CSV or .xlsx) as batches of text cells with their physical line numbers.

Nothing here knows the contract's columns beyond the header names it is given: the readers in
`extract.readers` resolve headers and hand the text to the pure typing in `transform`.

Why streaming: national exports run to millions of lines; memory must be bounded by the batch size,
not by the file (issue 5). CSV goes through pyarrow's streaming reader (fast, transcodes cp1252 itself).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from schemas.errors import InputFileError

BLOCK_SIZE = 16 << 20  # bytes of CSV per batch; a single line may be this long (a megabyte-sized field)
XLSX_BATCH_ROWS = 50_000
_SCAN_CHUNK = 8 << 20
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


@dataclass
class FileFacts:
    """What is known about a file before its rows are read."""

    path: Path
    sha256: str
    size_bytes: int
    encoding: str | None  # None for xlsx
    header: list[str]  # header cells as written (trimmed)


@dataclass
class InvalidLine:
    """A CSV record whose field count does not match the header: rejected as a whole."""

    line: int
    reason: str


@dataclass
class TextBatch:
    """Consecutive records: `columns` maps header position → text cells; `lines` the physical lines."""

    columns: Mapping[int, Sequence[str] | np.ndarray]
    lines: np.ndarray
    invalid: list[InvalidLine] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


def file_facts(path: Path) -> FileFacts:
    """Hash the file, detect its encoding (CSV) and read its header. Raises InputFileError."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not a file")
    sha, size, encoding = _scan(path)
    if size == 0:
        raise InputFileError(f"{path}: empty file")
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return FileFacts(path, sha, size, None, _xlsx_header(path))
    if path.suffix.lower() == ".xls":
        raise InputFileError(f"{path}: old Excel format (.xls): save it as .xlsx or CSV")
    assert encoding is not None
    return FileFacts(path, sha, size, encoding, _csv_header(path, encoding))


def iter_batches(facts: FileFacts, keep: dict[int, str]) -> Iterator[TextBatch]:
    """Yield the file's records in batches; only header positions in `keep` are returned.

    `keep` maps a header position to a name used in errors. Columns not kept (personal data, unknown
    columns) are parsed (a CSV must be split to find its records) but dropped batch by batch.
    """
    if facts.encoding is None:
        yield from _xlsx_batches(facts, keep)
    else:
        yield from _csv_batches(facts, keep)


# --- detection -------------------------------------------------------------------------------------


def _scan(path: Path) -> tuple[str, int, str | None]:
    """One pass over the bytes: SHA-256, size, and the text encoding (UTF-8, or else Windows-1252)."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, is_cp1252, first, size = True, True, b"", 0
    is_xlsx = path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN_CHUNK):
            if not first:
                first = chunk[:4]
                if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not is_xlsx:
                    raise InputFileError(f"{path}: UTF-16 text: save it as UTF-8 or Windows-1252 CSV")
            digest.update(chunk)
            if not is_xlsx:
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    raise InputFileError(
                        f"{path}: binary data (a NUL byte at byte {size + nul + 1}): not a CSV text file"
                    )
                if is_utf8:
                    try:
                        utf8.decode(chunk)
                    except UnicodeDecodeError:
                        is_utf8 = False
                if is_cp1252 and not _CP1252_UNDEFINED.isdisjoint(chunk):
                    is_cp1252 = False
            size += len(chunk)
    if is_xlsx:
        return digest.hexdigest(), size, None
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    if is_utf8:
        return digest.hexdigest(), size, "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
    if is_cp1252:
        return digest.hexdigest(), size, "cp1252"
    raise InputFileError(f"{path}: neither UTF-8 nor Windows-1252 text: not a CSV export")


def _csv_header(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as handle:
        raw = handle.readline(BLOCK_SIZE)
    text = raw.decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise InputFileError(f"{path}:1: the first line is empty: expected a header row")
    if ";" not in text:
        for other, name in ((",", "commas"), ("\t", "tabs")):
            if other in text:
                raise InputFileError(f"{path}:1: fields are separated by {name}; the contract asks for ';'")
    header = next(csv.reader([text], delimiter=";", quotechar='"'))
    return [h.strip() for h in header]


def _xlsx_workbook(path: Path):  # openpyxl is untyped
    import openpyxl  # imported here: only Excel exports need it, and it is slow to import

    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            head = handle.read(512)
        kind = "a text file (a CSV renamed .xlsx?)" if _looks_like_text(head) else "damaged or truncated"
        raise InputFileError(f"{path}: not a readable .xlsx workbook: {kind}")
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise InputFileError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})") from None


def _looks_like_text(head: bytes) -> bool:
    return bool(head) and b"\x00" not in head and all(b >= 9 for b in head)


def _xlsx_header(path: Path) -> list[str]:
    workbook = _xlsx_workbook(path)
    try:
        sheet = workbook.worksheets[0]
        first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
    except Exception as exc:
        raise InputFileError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    finally:
        workbook.close()
    if not first or all(v is None for v in first):
        raise InputFileError(f"{path}: the first sheet has no header in row 1")
    return [_cell_text(v).strip() for v in first]


# --- CSV -----------------------------------------------------------------------------------------


def _csv_batches(facts: FileFacts, keep: dict[int, str]) -> Iterator[TextBatch]:
    width = len(facts.header)
    names = [f"c{i}" for i in range(width)]
    # Records pyarrow could not split into the header's width, in file order: (line, lines spanned, reason).
    pending: list[tuple[int, int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        text = row.text or ""
        number = row.number or 0
        if "\n" in text and text.count('"') % 2 == 1:
            raise InputFileError(
                f"{facts.path}:{number}: unbalanced quote: the rest of the file is one field"
            )
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        pending.append((number, text.count("\n") + 1, reason))
        return "skip"

    reader_options = pacsv.ReadOptions(
        block_size=BLOCK_SIZE,
        use_threads=False,
        skip_rows=1,
        column_names=names,
        encoding=facts.encoding.replace("-sig", "") if facts.encoding else "utf8",
    )
    parse_options = pacsv.ParseOptions(
        delimiter=";",
        quote_char='"',
        newlines_in_values=True,
        ignore_empty_lines=False,
        invalid_row_handler=on_invalid,
    )
    convert_options = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        reader = pacsv.open_csv(
            facts.path,
            read_options=reader_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except InputFileError:
        raise
    except pa.ArrowInvalid as exc:
        raise InputFileError(f"{facts.path}: not a readable CSV export ({_arrow_reason(exc)})") from None

    next_line = 2  # the header is line 1
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except InputFileError:
            raise
        except pa.ArrowInvalid as exc:
            raise InputFileError(f"{facts.path}: not a readable CSV export ({_arrow_reason(exc)})") from None
        # Physical lines: each record takes one line plus the newlines inside its quoted values.
        extra = np.zeros(batch.num_rows, dtype=np.int64)
        for column in batch.columns:
            if pc.any(pc.match_substring(column, "\n")).as_py():
                extra += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        lines = next_line + np.arange(batch.num_rows, dtype=np.int64)
        lines += np.concatenate(([0], np.cumsum(extra)[:-1])).astype(np.int64)
        # Skipped records shift the lines after them; one past this batch's end waits for the next.
        invalid: list[InvalidLine] = []
        while pending and batch.num_rows and pending[0][0] < lines[-1] + 1 + extra[-1]:
            number, span, reason = pending.pop(0)
            lines[int(np.searchsorted(lines, number)) :] += span
            invalid.append(InvalidLine(number, reason))
        if batch.num_rows:
            next_line = int(lines[-1] + 1 + extra[-1])
        columns = {i: batch.column(i).to_numpy(zero_copy_only=False) for i in keep if i < batch.num_columns}
        # An empty line is no record: skip it (it is neither read nor rejected).
        blank = _blank_rows(batch)
        if blank.any():
            columns = {i: c[~blank] for i, c in columns.items()}
            lines = lines[~blank]
        if len(lines) or invalid:
            yield TextBatch(columns, lines, invalid)
    if pending:
        empty = {i: np.array([], dtype=object) for i in keep}
        yield TextBatch(empty, np.array([], dtype=np.int64), [InvalidLine(n, r) for n, _, r in pending])


def _blank_rows(batch: pa.RecordBatch) -> np.ndarray:
    blank = np.ones(batch.num_rows, dtype=bool)
    for column in batch.columns:
        blank &= pc.equal(pc.utf8_length(column), 0).to_numpy(zero_copy_only=False)
        if not blank.any():
            break
    return blank


def _arrow_reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0]
    if "straddles" in text:
        return f"a line longer than {BLOCK_SIZE >> 20} MB"
    # pyarrow quotes the offending text; it may hold personal data, so keep only the message's head.
    return text.split(":")[0]


# --- xlsx ----------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """Excel cells as the text a CSV export would hold (codes as digits, dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return str(value)


def _xlsx_batches(facts: FileFacts, keep: dict[int, str]) -> Iterator[TextBatch]:
    workbook = _xlsx_workbook(facts.path)
    try:
        sheet = workbook.worksheets[0]
        columns: dict[int, list[str]] = {i: [] for i in keep}
        lines: list[int] = []
        for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
            cells = [_cell_text(v) for v in row]
            if not any(c.strip() for c in cells):
                continue
            for i in keep:
                columns[i].append(cells[i] if i < len(cells) else "")
            lines.append(number)
            if len(lines) >= XLSX_BATCH_ROWS:
                yield TextBatch(dict(columns), np.asarray(lines, dtype=np.int64))
                columns, lines = {i: [] for i in keep}, []
        if lines:
            yield TextBatch(columns, np.asarray(lines, dtype=np.int64))
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(f"{facts.path}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    finally:
        workbook.close()


def read_text(path: Path) -> str:
    """A small config file's text (UTF-8), with a one-line error if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text (byte {exc.start + 1})") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
