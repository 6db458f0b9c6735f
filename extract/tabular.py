"""Read an export file (CSV or .xlsx) as batches of text cells with their physical line numbers.

Nothing here knows the contract's columns beyond the header names it is given: the readers in
`extract.readers` resolve headers and hand the text to the pure typing in `transform`.

Why streaming: national exports run to millions of lines; memory must be bounded by the batch size,
not by the file. CSV goes through pyarrow's streaming reader (fast, transcodes cp1252 itself).
"""

from __future__ import annotations

import codecs
import csv
import ctypes
import hashlib
import io
import os
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from schemas.errors import InputFileError

# Bytes of CSV per batch, and the longest line (pyarrow's reader needs a whole line in one block). A
# reading thread holds several times this while typing a batch: at 12 MB (with the memory given back
# after each batch) a national load peaks at two thirds of the reference script's; 8 MB was no lower
# and slower, 16 MB a tenth higher.
BLOCK_SIZE = 12 << 20
MAX_FIELD_BYTES = 1 << 20  # no export cell is this long: a longer one is a broken quote or a pasted blob
XLSX_BATCH_ROWS = 50_000
XLSX_BATCH_CHARS = 32 << 20
_SCAN_CHUNK = 8 << 20
_QUOTE, _NEWLINE = ord('"'), ord("\n")
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
    lines: int = 0  # CSV: physical lines in the file
    stamp: tuple[int, int, int] = (0, 0, 0)  # (size, mtime_ns, inode) before the read
    notes: list[str] = field(default_factory=list)  # file warnings found while reading


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


SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file or a folder."""
    return next((name for test, name in SPECIAL_KINDS if test(mode)), None)


def file_facts(path: Path) -> FileFacts:
    """Hash the file, detect its encoding (CSV) and read its header. Raises InputFileError."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputFileError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        # Opening a FIFO waits for a writer forever; a device never ends: never open them.
        kind = special_kind(mode) or "not a regular file"
        raise InputFileError(f"{path}: {kind}, not a regular file: not read")
    sha, size, encoding, quotes, lines, stamp = _scan(path)
    if size == 0:
        raise InputFileError(f"{path}: empty file")
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        checked = check_workbook(path) if zipfile.is_zipfile(path) else XlsxCheck()
        facts = FileFacts(path, sha, size, None, _xlsx_header(path), stamp=stamp)
        if checked.other_sheets:
            facts.notes.append(_sheet_note(checked.other_sheets))
        return facts
    if path.suffix.lower() == ".xls":
        raise InputFileError(f"{path}: old Excel format (.xls): save it as .xlsx or CSV")
    assert encoding is not None
    header = _csv_header(path, encoding)
    return FileFacts(path, sha, size, encoding, header, quotes % 2 == 1, lines, stamp)


def iter_batches(
    facts: FileFacts, keep: dict[int, str], single_line: frozenset[int] = frozenset()
) -> Iterator[TextBatch]:
    """Yield the file's records in batches; only header positions in `keep` are returned.

    `keep` maps a header position to a name used in errors. Columns not kept (personal data, unknown
    columns) are parsed (a CSV must be split to find its records) but dropped batch by batch.
    `single_line`: positions whose values may not hold a line break (a CSV record that puts one there
    is a quote left open, and its lines are read one by one). At the end, a file that changed while it
    was read raises InputFileError.
    """
    if facts.encoding is None:
        yield from _xlsx_batches(facts, keep)
        _check_unchanged(facts, _sha256(facts.path), None)
    else:
        yield from _csv_batches(facts, keep, single_line)


def _stamp(handle_or_path: int | Path) -> tuple[int, int, int]:
    info = os.fstat(handle_or_path) if isinstance(handle_or_path, int) else os.stat(handle_or_path)
    return info.st_size, info.st_mtime_ns, info.st_ino


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_unchanged(facts: FileFacts, sha256: str, size: int | None) -> None:
    """Size, modification time and content as read must be those found before the read: a file
    rewritten meanwhile is not loaded (the next run reads it whole)."""
    try:
        after = _stamp(facts.path)
    except OSError:
        after = (-1, -1, -1)
    if after != facts.stamp or sha256 != facts.sha256 or (size is not None and size != facts.size_bytes):
        raise InputFileError(f"{facts.path}: changed while being read: not loaded")


# --- detection -------------------------------------------------------------------------------------


def _scan(path: Path) -> tuple[str, int, str | None, int, int, tuple[int, int, int]]:
    """One pass over the bytes: SHA-256, size, the text encoding (UTF-8, or else Windows-1252), quotes,
    physical lines, and the file's (size, mtime, inode) before it."""
    digest = hashlib.sha256()
    utf8 = _Utf8Check()
    is_utf8, is_cp1252, first, size, quotes, newlines, last = True, True, b"", 0, 0, 0, b""
    is_xlsx = path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}
    with path.open("rb") as handle:
        stamp = _stamp(handle.fileno())
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
                    is_utf8 = utf8.feed(chunk)
                # bytes.find is memchr: a regex over every byte of a national export held the GIL for seconds
                if is_cp1252 and any(chunk.find(b) >= 0 for b in _CP1252_UNDEFINED):
                    is_cp1252 = False
                # numpy compares a byte a cycle; bytes.count takes three times as long
                view = np.frombuffer(chunk, dtype=np.uint8)
                quotes += int(np.count_nonzero(view == _QUOTE))
                newlines += int(np.count_nonzero(view == _NEWLINE))
                last = chunk[-1:]
            size += len(chunk)
    lines = newlines + (1 if last and last != b"\n" else 0)
    if is_xlsx:
        return digest.hexdigest(), size, None, 0, 0, stamp
    if is_utf8:
        is_utf8 = utf8.final()
    if is_utf8:
        encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
        return digest.hexdigest(), size, encoding, quotes, lines, stamp
    if is_cp1252:
        return digest.hexdigest(), size, "cp1252", quotes, lines, stamp
    raise InputFileError(f"{path}: neither UTF-8 nor Windows-1252 text: not a CSV export")


class _Utf8Check:
    """Whether bytes fed in pieces are UTF-8, as Python's strict decoder judges them, without decoding
    them: Arrow validates a piece (SIMD) in a tenth of the time a decode into a str takes. A character
    cut at a piece's end is carried into the next piece."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, chunk: bytes) -> bool:
        data = self._carry + chunk if self._carry else chunk
        cut = _whole_characters(data)
        self._carry = data[cut:]
        if not cut:
            return True
        piece = pa.Array.from_buffers(
            pa.large_string(), 1, [None, pa.py_buffer(np.array([0, cut], dtype=np.int64)), pa.py_buffer(data)]
        )
        try:
            piece.validate(full=True)
        except pa.ArrowInvalid:
            return False
        return True

    def final(self) -> bool:
        """At the end: no character left cut short."""
        return not self._carry


def _whole_characters(data: bytes) -> int:
    """How many leading bytes of `data` stop short of a multi-byte character cut at its end."""
    end = len(data)
    for at in range(end - 1, max(end - 4, 0) - 1, -1):
        byte = data[at]
        if byte < 0x80:
            return end
        if byte >= 0xC0:  # a lead byte: the length of its character
            size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return at if end - at < size else end
    return end  # no lead byte near the end: validation judges what is there


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

# A record may run over several lines only through a quoted value of a column that may hold line breaks,
# and only when no line inside that value looks like a record of its own (as many ';' as the header has
# separators). Anything else is a quote left open: each line of it is read on its own.
UNBALANCED = "unbalanced quote"
SUMMARY_LINE = "summary line (e.g. 'Totalt;1850'), not a record"
_SUMMARY_LABEL = re.compile(r"(?i)^\s*(totalt?|summa|sum|antal|totalsumma|s:a)\b")
_SUMMARY_REST = re.compile(r"^[\s0-9.,:%+-]*$")


@dataclass(frozen=True)
class _Section:
    """How the records after a header row map onto the first header: kept position → position here."""

    take: dict[int, int]
    single_line: frozenset[int]  # positions here whose values may not hold a line break


class _HashingReader(io.RawIOBase):
    """The file as pyarrow reads it, hashed on the way: the SHA-256 of the bytes actually loaded."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("rb")
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # io's buffer protocol
        n = self._handle.readinto(buffer)
        if n:
            self.digest.update(memoryview(buffer)[:n])
            self.size += n
        return n or 0

    def read_remaining(self) -> None:
        while chunk := self._handle.read(_SCAN_CHUNK):
            self.digest.update(chunk)
            self.size += len(chunk)

    def close(self) -> None:
        self._handle.close()
        super().close()


class _LineSource:
    """Physical lines of the file by number, read forward only (spans are re-read in file order)."""

    def __init__(self, path: Path, encoding: str) -> None:
        self._path = path
        self._handle = path.open("rb")
        self._encoding = encoding.replace("-sig", "")
        self._line = 1  # the number of the line `_buffer` starts with
        self._buffer = b""

    def _fill(self) -> bool:
        chunk = self._handle.read(_SCAN_CHUNK)
        self._buffer += chunk
        return bool(chunk)

    def lines(self, start: int, count: int) -> list[str]:
        """Lines start .. start+count-1 (fewer at the end of the file), decoded, without line ends."""
        if start < self._line:  # not expected (spans come in file order), but never the wrong lines
            self._handle.seek(0)
            self._line, self._buffer = 1, b""
        while self._line < start:
            newlines = self._buffer.count(b"\n")
            if newlines < start - self._line:
                self._line += newlines
                self._buffer = b""
                if not self._fill():
                    return []
                continue
            at = -1
            for _ in range(start - self._line):
                at = self._buffer.index(b"\n", at + 1)
            self._buffer = self._buffer[at + 1 :]
            self._line = start
        out: list[str] = []
        while len(out) < count:
            at = self._buffer.find(b"\n")
            while at < 0:
                if len(self._buffer) > BLOCK_SIZE:
                    raise InputFileError(
                        f"{self._path}:{self._line}: a line longer than {BLOCK_SIZE >> 20} MB"
                    )
                if not self._fill():
                    break
                at = self._buffer.find(b"\n")
            if at < 0:
                if self._buffer:
                    out.append(self._buffer.decode(self._encoding).rstrip("\r"))
                    self._buffer = b""
                    self._line += 1
                break
            out.append(self._buffer[:at].decode(self._encoding).rstrip("\r"))
            self._buffer = self._buffer[at + 1 :]
            self._line += 1
        return out

    def close(self) -> None:
        self._handle.close()


class _Alone:
    """Lines read on their own (a broken span, or lines pyarrow could not split): records or rejections."""

    def __init__(self, facts: FileFacts, keep: dict[int, str]) -> None:
        self.facts = facts
        self.width = len(facts.header)
        self.keep = keep
        self.columns: dict[int, list[str]] = {i: [] for i in keep}
        self.lines: list[int] = []
        self.invalid: list[InvalidLine] = []

    def add(self, line: int, text: str, section: _Section, fallback: str | None) -> None:
        """`fallback`: the reason when the line does not split into the header's fields (None: the count)."""
        text = text.rstrip("\r")
        if not text.strip(" ;\t"):
            return  # an empty line is no record
        if text.count('"') % 2 == 1:
            self.invalid.append(InvalidLine(line, fallback or UNBALANCED))
            return
        try:
            cells = next(csv.reader([text], delimiter=";", quotechar='"'))
        except csv.Error:
            self.invalid.append(InvalidLine(line, fallback or UNBALANCED))
            return
        if len(cells) != self.width:
            if _is_summary(cells):
                reason = SUMMARY_LINE
            else:
                reason = fallback or f"expected {self.width} fields, found {len(cells)}"
            self.invalid.append(InvalidLine(line, reason))
            return
        for position, cell in enumerate(cells):
            if len(cell) > MAX_FIELD_BYTES:
                _refuse_field(self.facts, position, line, len(cell.encode()))
        for i in self.keep:
            self.columns[i].append(cells[section.take[i]])
        self.lines.append(line)

    def flush(self) -> TextBatch | None:
        if not self.lines and not self.invalid:
            return None
        batch = TextBatch(self.columns, np.asarray(self.lines, dtype=np.int64), self.invalid)
        self.columns, self.lines, self.invalid = {i: [] for i in self.keep}, [], []
        return batch


def _is_summary(cells: Sequence[str]) -> bool:
    filled = [c for c in cells if c.strip()]
    return (
        bool(filled)
        and bool(_SUMMARY_LABEL.match(filled[0]))
        and all(_SUMMARY_REST.match(c) for c in filled[1:])
    )


def _header_keys(cells: Sequence[str]) -> list[str]:
    return [" ".join(c.split()).casefold() for c in cells]


def _section_of(facts: FileFacts, cells: Sequence[str], keep: dict[int, str], single: frozenset[int]):
    """The section a repeated header row starts, or None when the row is not the header again."""
    first = _header_keys(facts.header)
    here = _header_keys(cells)
    if sorted(here) != sorted(first):
        return None
    free: dict[str, list[int]] = {}
    for position, key in enumerate(here):
        free.setdefault(key, []).append(position)
    moved = {i: free[key].pop(0) for i, key in enumerate(first)}
    return _Section({i: moved[i] for i in keep}, frozenset(moved[i] for i in single))


def _csv_batches(facts: FileFacts, keep: dict[int, str], single_line: frozenset[int]) -> Iterator[TextBatch]:
    width = len(facts.header)
    names = [f"c{i}" for i in range(width)]
    # Records pyarrow could not split into the header's width: (record number, lines spanned, text, fields).
    # pyarrow numbers records (the header is record 1), not physical lines: `_Lines` maps one to the other.
    pending: list[tuple[int, int, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # Never raise here: pyarrow prints an exception from this callback with its traceback and then
        # fails with the raw line text in its message. Record, skip, and decide after the batch.
        try:
            text = row.text or ""
            number = row.number if row.number is not None else 0
            pending.append((number, text.count("\n") + 1, text, row.actual_columns))
        except Exception:  # see above: the line is rejected rather than the reader stopped
            pending.append((0, 1, "", 0))
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
    source = _HashingReader(facts.path)
    try:
        reader = pacsv.open_csv(
            source,
            read_options=reader_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except pa.ArrowException as exc:
        source.close()
        raise InputFileError(f"{facts.path}: not a readable CSV export ({_arrow_reason(exc)})") from None

    section = _Section({i: i for i in keep}, single_line)
    header_cells = pa.array(
        sorted({v for h in facts.header for v in (h, h.lower(), h.upper(), h.casefold())})
    )
    numbering = _Lines()
    alone = _Alone(facts, keep)
    spans = _LineSource(facts.path, facts.encoding or "utf-8")
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowException as exc:
                if not facts.quotes_odd:
                    raise InputFileError(
                        f"{facts.path}: not a readable CSV export ({_arrow_reason(exc)})"
                    ) from None
                # A quote left open runs past pyarrow's block: every line from the last record pyarrow
                # gave on is read on its own (the lines it skipped as invalid are among them).
                pending.clear()
                yield from _rest_alone(facts, alone, spans, numbering.next_line, section)
                source.read_remaining()
                break
            n = batch.num_rows
            # Physical lines: each record takes one line plus the newlines inside its quoted values.
            extra = np.zeros(n, dtype=np.int64)
            with_newline: list[tuple[int, pa.Array]] = []
            for position, column in enumerate(batch.columns):
                if _holds_newline(column):
                    extra += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
                    with_newline.append((position, column))
            lines, taken = numbering.place(extra, pending)
            sections = [(0, section)]  # (first row, section) in row order
            drop = np.zeros(n, dtype=bool)
            if n:
                maybe = pc.is_in(batch.column(0), value_set=header_cells).to_numpy(zero_copy_only=False)
                for row in np.flatnonzero(maybe):
                    cells = [batch.column(p)[row].as_py() for p in range(width)]
                    found = _section_of(facts, cells, keep, single_line)
                    if found is not None:
                        drop[row] = True
                        sections.append((int(row) + 1, found))
                        facts.notes.append(_header_note(int(lines[row]), found, keep))
            row_section = np.zeros(n, dtype=np.int64)
            for index, (start, _) in enumerate(sections[1:], start=1):
                row_section[start:] = index
            suspect = np.zeros(n, dtype=bool)
            for position, column in with_newline:
                has = pc.match_substring(column, "\n").to_numpy(zero_copy_only=False)
                for index, (_, sec) in enumerate(sections):
                    mine = has & (row_section == index)
                    if not mine.any():
                        continue
                    if position in sec.single_line:
                        suspect |= mine
                    else:
                        separators = pc.count_substring(column, ";").to_numpy(zero_copy_only=False)
                        suspect |= mine & (separators >= width - 1)
            if with_newline and facts.lines:
                # A quote left open at the end of the file: pyarrow closes it there without a word.
                last = lines + extra
                suspect |= (extra > 0) & ((last > facts.lines) | ((last == facts.lines) & facts.quotes_odd))
            drop |= suspect
            # Records whose lines are re-read, and records pyarrow could not split, in line order.
            for row in np.flatnonzero(suspect):
                where = row_section[row]
                start, count = int(lines[row]), int(extra[row]) + 1
                for offset, text in enumerate(spans.lines(start, count)):
                    alone.add(start + offset, text, sections[where][1], UNBALANCED)
            for line, span, text, fields, after in taken:
                sec = sections[int(row_section[after - 1])][1] if after > 0 else sections[0][1]
                _add_invalid(alone, line, span, text, fields, sec)
            section = sections[-1][1]
            blank = _blank_rows(batch)
            use = ~(drop | blank)
            if n and not use.all():
                kept_batch = batch.filter(pa.array(use))
                kept_lines, kept_section = lines[use], row_section[use]
            else:
                kept_batch, kept_lines, kept_section = batch, lines, row_section
            _check_field_sizes(facts, kept_batch, kept_lines)
            columns = _columns(kept_batch, kept_section, sections, keep)
            # Only the kept columns go on: the whole record batch is not held while they are typed.
            del batch, kept_batch
            if len(kept_lines):
                yield TextBatch(columns, kept_lines)
            del columns
            extra_batch = alone.flush()
            if extra_batch is not None:
                yield extra_batch
        _, taken = numbering.place(np.zeros(0, dtype=np.int64), pending, final=True)
        for line, span, text, fields, _ in taken:
            _add_invalid(alone, line, span, text, fields, section)
        extra_batch = alone.flush()
        if extra_batch is not None:
            yield extra_batch
        source.read_remaining()  # a read that stopped short (the file grew) is compared whole
    finally:
        spans.close()
        source.close()
    _check_unchanged(facts, source.digest.hexdigest(), source.size)


def _libc_memchr() -> Callable[[int, int, int], int | None] | None:
    try:
        memchr = ctypes.CDLL(None).memchr
    except (OSError, AttributeError):  # no C library to open this way (Windows)
        return None
    memchr.restype = ctypes.c_void_p
    memchr.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
    return memchr


# The C library's memchr over an Arrow buffer where it lies: no copy, and ctypes lets go of the GIL
# meanwhile (a copy into bytes, then bytes.find, held it: the other file's thread waited).
_MEMCHR = _libc_memchr()


def _holds_newline(column: pa.Array) -> bool:
    """Whether any value holds a line break: one memchr over the column's bytes (a kernel value by value
    cost fifteen times more, for every column of every batch, where nearly none holds one)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        _, offsets, data = column.buffers()
        if data is None or not len(column):
            return False
        ends = np.frombuffer(offsets, dtype=np.int32 if pa.types.is_string(column.type) else np.int64)
        start, end = int(ends[column.offset]), int(ends[column.offset + len(column)])
        # A null value may own bytes between these ends: only a column without nulls is read this way.
        if not column.null_count:
            if _MEMCHR is not None:
                return end > start and _MEMCHR(data.address + start, ord("\n"), end - start) is not None
            return memoryview(data)[start:end].tobytes().find(b"\n") >= 0
    return bool(pc.any(pc.match_substring(column, "\n")).as_py())


def _columns(
    batch: pa.RecordBatch, row_section: np.ndarray, sections: list[tuple[int, _Section]], keep: dict[int, str]
) -> dict[int, pa.Array]:
    """Each kept column's cells, taken in every section from where that section's header put it."""
    if len(sections) == 1:
        take = sections[0][1].take
        return {i: batch.column(take[i]) for i in keep if take[i] < batch.num_columns}
    parts: dict[int, list[pa.Array]] = {i: [] for i in keep}
    for index, (_, sec) in enumerate(sections):
        rows = np.flatnonzero(row_section == index)
        if not len(rows):
            continue
        piece = batch.slice(int(rows[0]), len(rows))  # a section's rows are consecutive
        for i in keep:
            parts[i].append(piece.column(sec.take[i]))
    return {i: pa.concat_arrays(p) for i, p in parts.items()}


def _add_invalid(alone: _Alone, line: int, span: int, text: str, fields: int, section: _Section) -> None:
    """A record pyarrow could not split: one line is rejected for its field count (or is a summary
    line); the lines of a multi-line one are each read on their own."""
    if span > 1:
        for offset, piece in enumerate(text.split("\n")[:span]):
            alone.add(line + offset, piece, section, UNBALANCED)
    elif text:
        alone.add(line, text, section, None)
    else:
        alone.invalid.append(InvalidLine(line, f"expected {alone.width} fields, found {fields}"))


def _header_note(line: int, section: _Section, keep: dict[int, str]) -> str:
    moved = any(section.take[i] != i for i in keep)
    order = "in another column order" if moved else "in the same order"
    return f"line {line}: the header row again ({order}): the lines after it are read with it"


def _rest_alone(
    facts: FileFacts, alone: _Alone, spans: _LineSource, start: int, section: _Section
) -> Iterator[TextBatch]:
    line = start
    while True:
        texts = spans.lines(line, XLSX_BATCH_ROWS)
        for offset, text in enumerate(texts):
            alone.add(line + offset, text, section, UNBALANCED)
        line += len(texts)
        batch = alone.flush()
        if batch is not None:
            yield batch
        if len(texts) < XLSX_BATCH_ROWS:
            return


class _Lines:
    """Maps pyarrow's record numbers (header = 1) to physical line numbers, batch by batch.

    A record spans one line plus the newlines inside its quoted values; records pyarrow skipped as
    invalid (wrong field count) are interleaved by their record number and shift the lines after them.
    """

    def __init__(self) -> None:
        self.next_record = 2
        self.next_line = 2

    def place(
        self, extra: np.ndarray, pending: list[tuple[int, int, str, int]], *, final: bool = False
    ) -> tuple[np.ndarray, list[tuple[int, int, str, int, int]]]:
        """Physical lines of the batch's valid records, and the invalid records among them (off `pending`)
        as (line, lines spanned, text, fields, number of the batch's valid records before it)."""
        pending.sort()
        records = self.next_record + np.arange(len(extra), dtype=np.int64)
        taken: list[tuple[int, int, str, int]] = []
        while pending and (final or (len(records) and pending[0][0] <= records[-1])):
            number, span, text, fields = pending.pop(0)
            number = max(number, self.next_record)  # an unknown number (0) goes where the reader is
            records[records >= number] += 1
            taken.append((number, span, text, fields))
        numbers = np.concatenate([records, np.array([t[0] for t in taken], dtype=np.int64)])
        spans = np.concatenate([1 + extra, np.array([t[1] for t in taken], dtype=np.int64)])
        order = np.argsort(numbers, kind="stable")
        starts = np.empty_like(spans)
        starts[order] = self.next_line + np.cumsum(spans[order]) - spans[order]
        if len(numbers):
            self.next_record = int(numbers.max()) + 1
            self.next_line = int(starts[order[-1]] + spans[order[-1]])
        placed = [
            (int(line), span, text, fields, int(np.searchsorted(records, number)))
            for (number, span, text, fields), line in zip(taken, starts[len(records) :], strict=True)
        ]
        return starts[: len(records)], placed


def _check_field_sizes(facts: FileFacts, batch: pa.RecordBatch, lines: np.ndarray) -> None:
    """A field of megabytes is no export cell (a broken quote or a pasted blob): the file is refused."""
    for position, column in enumerate(batch.columns):
        if not len(column):
            continue
        lengths = pc.binary_length(column)
        longest = pc.max(lengths).as_py() or 0
        if longest > MAX_FIELD_BYTES:
            _refuse_field(facts, position, int(lines[int(pc.index(lengths, longest).as_py())]), longest)


def _refuse_field(facts: FileFacts, position: int, line: int, size: int) -> None:
    name = facts.header[position] if position < len(facts.header) else f"column {position + 1}"
    raise InputFileError(
        f"{facts.path}:{line}: column {name!r} holds a field of {size / 1e6:.1f} MB "
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


# --- xlsx limits -----------------------------------------------------------------------------------

# A workbook is a zip: a few megabytes can unpack to gigabytes. Every part is checked, streamed, before
# openpyxl reads it: its declared size (zipfile never inflates past it), and the longest text without
# markup (a cell), which must stay under the CSV field limit.
XLSX_MAX_PART_BYTES = 1 << 30  # a full sheet of 1 048 576 rows × 11 columns unpacks to about 0.5 GB
XLSX_MAX_BYTES = 3 << 30
# openpyxl holds the shared strings in memory: a national export's (unique case numbers) is under 100 MB.
XLSX_MAX_SHARED_STRINGS_BYTES = 256 << 20
_XLSX_CHUNK = 1 << 20
_LT = ord("<")


@dataclass
class XlsxCheck:
    """What the check of a workbook found: the other sheets' non-empty rows, and bytes inflated."""

    other_sheets: list[tuple[str, int]] = field(default_factory=list)
    inflated: int = 0


def check_workbook(path: Path, result: XlsxCheck | None = None) -> XlsxCheck:
    """Refuse a workbook whose parts unpack beyond the limits; count the rows of its other sheets.
    `result` is filled as the check goes (what was inflated before a refusal, for the tests)."""
    result = result if result is not None else XlsxCheck()
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(i.file_size for i in infos)
            for info in infos:
                shared = info.filename.lower().endswith("sharedstrings.xml")
                if shared and info.file_size > XLSX_MAX_SHARED_STRINGS_BYTES:
                    raise InputFileError(
                        f"{path}: the workbook's shared strings unpack to {info.file_size / 1e6:.0f} MB "
                        f"(more than {XLSX_MAX_SHARED_STRINGS_BYTES >> 20} MB): not read"
                    )
                if info.file_size > XLSX_MAX_PART_BYTES:
                    size = info.file_size / 1e9
                    raise InputFileError(
                        f"{path}: the workbook's part {info.filename!r} unpacks to {size:.1f} GB "
                        f"(more than {XLSX_MAX_PART_BYTES >> 30} GB): not read"
                    )
            if total > XLSX_MAX_BYTES:
                raise InputFileError(
                    f"{path}: the workbook unpacks to {total / 1e9:.1f} GB "
                    f"(more than {XLSX_MAX_BYTES >> 30} GB): not read"
                )
            sheets = _sheet_parts(archive)
            others = {part: name for name, part in sheets[1:]}
            for info in infos:
                if info.filename.endswith((".xml", ".rels", ".vml")) or info.filename in others:
                    rows = _stream_part(path, archive, info, result, count_rows=info.filename in others)
                    if info.filename in others and rows:
                        result.other_sheets.append((others[info.filename], rows))
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ET.ParseError, expat.ExpatError) as exc:
        raise InputFileError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    order = [name for name, _ in sheets[1:]]
    result.other_sheets.sort(key=lambda s: order.index(s[0]))
    return result


def _sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, part path) in the workbook's order; the first is the one the contract reads."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return []
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        targets[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    book = ET.fromstring(archive.read("xl/workbook.xml"))
    sheets = []
    for element in book.iter():
        if element.tag.rsplit("}", 1)[-1] == "sheet":
            rid = next((v for k, v in element.attrib.items() if k.rsplit("}", 1)[-1] == "id"), None)
            if rid in targets:
                sheets.append((element.get("name", "?"), targets[rid]))
    return sheets


def _stream_part(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, result: XlsxCheck, *, count_rows: bool
) -> int:
    """Inflate one part in chunks: no text run longer than a CSV field; rows with a value, if asked."""
    run = 0  # bytes since the last '<'
    rows = 0
    parser = None
    if count_rows:
        state = {"in_row": False, "filled": False, "in_value": False}

        def start(name: str, _attrs: object) -> None:
            local = name.rsplit(" ", 1)[-1]
            if local == "row":
                state["in_row"], state["filled"] = True, False
            elif local in ("v", "t"):
                state["in_value"] = True

        def end(name: str) -> None:
            nonlocal rows
            local = name.rsplit(" ", 1)[-1]
            if local == "row":
                rows += state["filled"]
                state["in_row"] = False
            elif local in ("v", "t"):
                state["in_value"] = False

        def text(data: str) -> None:
            if state["in_row"] and state["in_value"] and data.strip():
                state["filled"] = True

        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
    with archive.open(info) as part:
        while chunk := part.read(_XLSX_CHUNK):
            result.inflated += len(chunk)
            marks = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _LT)
            if not len(marks):
                longest = run + len(chunk)
                run = longest
            else:
                gaps = np.diff(marks) - 1
                longest = max(run + int(marks[0]), int(gaps.max()) if len(gaps) else 0)
                run = len(chunk) - int(marks[-1]) - 1
            if longest > MAX_FIELD_BYTES:
                raise InputFileError(
                    f"{path}: the workbook's part {info.filename!r} holds a text of more than "
                    f"{MAX_FIELD_BYTES >> 20} MB (a cell longer than any export field): not read"
                )
            if parser is not None:
                parser.Parse(chunk, False)
    if parser is not None:
        parser.Parse(b"", True)
    return rows


def _sheet_note(others: list[tuple[str, int]]) -> str:
    listed = ", ".join(f"{name!r} ({rows} rows)" for name, rows in others)
    return f"only the first sheet is read: the workbook's other sheets are ignored: {listed}"


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
        held = 0  # characters in the batch: long cells make a batch of fewer rows
        for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
            cells = [_cell_text(v) for v in row]
            if not any(c.strip() for c in cells):
                continue
            for i in keep:
                cell = cells[i] if i < len(cells) else ""
                columns[i].append(cell)
                held += len(cell)
            lines.append(number)
            if len(lines) >= XLSX_BATCH_ROWS or held >= XLSX_BATCH_CHARS:
                yield TextBatch(dict(columns), np.asarray(lines, dtype=np.int64))
                columns, lines, held = {i: [] for i in keep}, [], 0
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
