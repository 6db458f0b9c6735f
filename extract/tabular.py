"""Read an export file (CSV or .xlsx) as batches of text cells with their physical line numbers.

Nothing here knows the contract's columns beyond the header names it is given: the readers in
`extract.readers` resolve headers and hand the text to the pure typing in `transform`.

Why streaming: national exports run to millions of lines; memory must be bounded by the batch size,
not by the file. CSV goes through pyarrow's streaming reader (fast, transcodes cp1252 itself).
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
MAX_FIELD_BYTES = 1 << 20  # no export cell is this long: a longer one is a broken quote or a pasted blob
XLSX_BATCH_ROWS = 50_000
_SCAN_CHUNK = 8 << 20
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")  # bytes Windows-1252 leaves undefined


@dataclass
class FileFacts:
    """What is known about a file before its rows are read."""

    path: Path
    sha256: str
    size_bytes: int
    encoding: str | None  # None for xlsx
    header: list[str]  # header cells as written (trimmed)
    quotes_odd: bool = False  # CSV: an odd number of '"' in the file (a quote left open somewhere?)


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
    sha, size, encoding, quotes = _scan(path)
    if size == 0:
        raise InputFileError(f"{path}: empty file")
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return FileFacts(path, sha, size, None, _xlsx_header(path))
    if path.suffix.lower() == ".xls":
        raise InputFileError(f"{path}: old Excel format (.xls): save it as .xlsx or CSV")
    assert encoding is not None
    return FileFacts(path, sha, size, encoding, _csv_header(path, encoding), quotes % 2 == 1)


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


def _scan(path: Path) -> tuple[str, int, str | None, int]:
    """One pass over the bytes: SHA-256, size, the text encoding (UTF-8, or else Windows-1252), quotes."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, is_cp1252, first, size, quotes = True, True, b"", 0, 0
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
                if nul >= 0 and size == 0 and _looks_like_utf16(chunk):
                    raise InputFileError(
                        f"{path}: UTF-16 text without a BOM: save it as UTF-8 or Windows-1252 CSV"
                    )
                if nul >= 0:
                    raise InputFileError(
                        f"{path}: binary data (a NUL byte at byte {size + nul + 1}): not a CSV text file"
                    )
                if is_utf8:
                    try:
                        utf8.decode(chunk)
                    except UnicodeDecodeError:
                        is_utf8 = False
                # bytes.find is memchr: a regex over every byte of a national export held the GIL for seconds
                if is_cp1252 and any(chunk.find(b) >= 0 for b in _CP1252_UNDEFINED):
                    is_cp1252 = False
                quotes += chunk.count(b'"')
            size += len(chunk)
    if is_xlsx:
        return digest.hexdigest(), size, None, 0
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    if is_utf8:
        encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
        return digest.hexdigest(), size, encoding, quotes
    if is_cp1252:
        return digest.hexdigest(), size, "cp1252", quotes
    raise InputFileError(f"{path}: neither UTF-8 nor Windows-1252 text: not a CSV export")


def _looks_like_utf16(head: bytes) -> bool:
    """Latin text in UTF-16: every other byte is NUL (and the others are not)."""
    sample = head[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    return len(sample) >= 8 and max(even, odd) * 4 >= len(sample) * 3 // 2 and min(even, odd) == 0


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
    if text.count('"') % 2 == 1:
        raise InputFileError(f"{path}:1: unbalanced quote in the header row")
    try:
        header = next(csv.reader([text], delimiter=";", quotechar='"'))
    except csv.Error:
        # e.g. a carriage return alone ends the lines: the whole file reads as one header line
        raise InputFileError(f"{path}:1: the header row cannot be split into fields") from None
    if len(header) > 10_000:
        raise InputFileError(f"{path}:1: the header row has {len(header)} fields: not an export header")
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
    # Records pyarrow could not split into the header's width: (record number, lines spanned, reason).
    # pyarrow numbers records (the header is record 1), not physical lines: `_Lines` maps one to the other.
    pending: list[tuple[int, int, str]] = []
    unbalanced: list[int] = []  # record numbers whose text opens a quote that never closes

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # Never raise here: pyarrow prints an exception from this callback with its traceback and then
        # fails with the raw line text in its message. Record, skip, and decide after the batch.
        try:
            text = row.text or ""
            number = row.number if row.number is not None else 0
            if "\n" in text and text.count('"') % 2 == 1:
                unbalanced.append(number)
            pending.append(
                (number, text.count("\n") + 1, f"expected {width} fields, found {row.actual_columns}")
            )
        except Exception:  # see above: the file is refused after the batch rather than half-read
            unbalanced.append(0)
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
    except pa.ArrowException as exc:
        raise InputFileError(f"{facts.path}: not a readable CSV export ({_arrow_reason(exc)})") from None

    numbering = _Lines()
    last_record = (0, 0)  # the last valid record's (line, newlines inside it)
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowException as exc:
            numbering.place(np.zeros(0, dtype=np.int64), pending, final=True)
            _raise_unbalanced(facts, unbalanced, numbering)
            raise InputFileError(f"{facts.path}: not a readable CSV export ({_arrow_reason(exc)})") from None
        # Physical lines: each record takes one line plus the newlines inside its quoted values.
        extra = np.zeros(batch.num_rows, dtype=np.int64)
        for column in batch.columns:
            if pc.any(pc.match_substring(column, "\n")).as_py():
                extra += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        lines, invalid = numbering.place(extra, pending)
        _raise_unbalanced(facts, unbalanced, numbering)
        _check_field_sizes(facts, batch, lines)
        # Arrow arrays all the way: the typing works on them with pyarrow's kernels, without Python objects.
        columns = {i: batch.column(i) for i in keep if i < batch.num_columns}
        # An empty line is no record: skip it (it is neither read nor rejected).
        blank = _blank_rows(batch)
        if blank.any():
            columns = {i: c.filter(pa.array(~blank)) for i, c in columns.items()}
            lines = lines[~blank]
        if batch.num_rows:
            last_record = (int(numbering.next_line - 1 - extra[-1]), int(extra[-1]))
        if len(lines) or invalid:
            yield TextBatch(columns, lines, invalid)
    _, invalid = numbering.place(np.zeros(0, dtype=np.int64), pending, final=True)
    _raise_unbalanced(facts, unbalanced, numbering)
    if facts.quotes_odd and last_record[1] and not invalid:
        # The file's quotes do not pair up and its last record runs over several lines: pyarrow reads a
        # quote left open up to the end of the file as one field, silently swallowing the lines after it.
        raise InputFileError(
            f"{facts.path}:{last_record[0]}: unbalanced quote: the rest of the file is one field"
        )
    if invalid:
        empty = {i: np.array([], dtype=object) for i in keep}
        yield TextBatch(empty, np.array([], dtype=np.int64), invalid)


class _Lines:
    """Maps pyarrow's record numbers (header = 1) to physical line numbers, batch by batch.

    A record spans one line plus the newlines inside its quoted values; records pyarrow skipped as
    invalid (wrong field count) are interleaved by their record number and shift the lines after them.
    """

    def __init__(self) -> None:
        self.next_record = 2
        self.next_line = 2
        self.invalid_lines: dict[int, int] = {}  # record number → physical line, for messages

    def place(
        self, extra: np.ndarray, pending: list[tuple[int, int, str]], *, final: bool = False
    ) -> tuple[np.ndarray, list[InvalidLine]]:
        """Physical lines of the batch's valid records, and the invalid records among them (off `pending`)."""
        pending.sort()
        records = self.next_record + np.arange(len(extra), dtype=np.int64)
        taken: list[tuple[int, int, str]] = []
        while pending and (final or (len(records) and pending[0][0] <= records[-1])):
            number, span, reason = pending.pop(0)
            number = max(number, self.next_record)  # an unknown number (0) goes where the reader is
            records[records >= number] += 1
            taken.append((number, span, reason))
        numbers = np.concatenate([records, np.array([t[0] for t in taken], dtype=np.int64)])
        spans = np.concatenate([1 + extra, np.array([t[1] for t in taken], dtype=np.int64)])
        order = np.argsort(numbers, kind="stable")
        starts = np.empty_like(spans)
        starts[order] = self.next_line + np.cumsum(spans[order]) - spans[order]
        if len(numbers):
            self.next_record = int(numbers.max()) + 1
            self.next_line = int(starts[order[-1]] + spans[order[-1]])
        invalid = []
        for (number, _, reason), line in zip(taken, starts[len(records) :], strict=True):
            self.invalid_lines[number] = int(line)
            invalid.append(InvalidLine(int(line), reason))
        return starts[: len(records)], invalid

    def line_of(self, record: int) -> int:
        return self.invalid_lines.get(record, self.next_line)


def _raise_unbalanced(facts: FileFacts, unbalanced: list[int], numbering: _Lines) -> None:
    if unbalanced:
        where = numbering.line_of(unbalanced[0])
        raise InputFileError(f"{facts.path}:{where}: unbalanced quote: the rest of the file is one field")


def _check_field_sizes(facts: FileFacts, batch: pa.RecordBatch, lines: np.ndarray) -> None:
    """A field of megabytes is no export cell (a broken quote or a pasted blob): the file is refused."""
    for position, column in enumerate(batch.columns):
        if not len(column):
            continue
        lengths = pc.binary_length(column)
        longest = pc.max(lengths).as_py() or 0
        if longest > MAX_FIELD_BYTES:
            row = int(pc.index(lengths, longest).as_py())
            name = facts.header[position] if position < len(facts.header) else f"column {position + 1}"
            raise InputFileError(
                f"{facts.path}:{int(lines[row])}: column {name!r} holds a field of {longest / 1e6:.1f} MB "
                f"(more than {MAX_FIELD_BYTES >> 20} MB): not a usable export"
            )


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
