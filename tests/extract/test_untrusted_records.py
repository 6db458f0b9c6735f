"""CSV records that cannot be trusted are read line by line: every physical data line is one record,
loaded or rejected with its reason, whatever quotes were left open. Real files in every encoding."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import extract.tabular as tabular
from extract.readers import open_export, read_export
from extract.tabular import SUMMARY_LINE, UNBALANCED
from schemas.contracts import Source
from schemas.errors import InputFileError
from tests.robustness.corpus import STATUS_HEADER, STORM_HEADER, status_row

ENCODINGS = ["cp1252", "utf-8", "utf-8-sig"]


def storm_row(n: int, *, plats: str = "Centrum", text: str = "Kontroll utförd") -> list[str]:
    return [f"{1_000_000 + n}", "2019-05-01T10:00:00+02:00", "TRAFIKKONTROLL", "0484", plats, "", "", text]


def write(path: Path, header: list[str], rows: list[list[str]], encoding: str, newline: str = "\r\n") -> Path:
    path.write_bytes(newline.join(";".join(r) for r in [header, *rows]).encode(encoding) + newline.encode())
    return path


def read(path: Path, source: Source) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    export = open_export(path, source)
    batches = list(read_export(export))
    facts = pd.concat([b.facts for b in batches], ignore_index=True)
    rejected = pd.concat([b.rejected for b in batches], ignore_index=True)
    return facts, rejected, export.facts.notes


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_stray_quote_in_free_text_swallows_no_rows(tmp_path: Path, encoding: str) -> None:
    rows = [storm_row(n) for n in range(550)]
    rows[10][7] = '"Stick härifrån sa han'  # line 12: a quote opened and never closed
    rows[110][7] = 'Anmälaren sa "hej" till patrullen'  # line 112: the quote pyarrow pairs it with
    facts, rejected, _ = read(write(tmp_path / "storm.csv", STORM_HEADER, rows, encoding), Source.STORM)
    assert len(facts) + len(rejected) == 550  # rows counted = data lines
    assert rejected[["line", "reason"]].values.tolist() == [[12, UNBALANCED]]
    assert sorted(facts["line"]) == [n for n in range(2, 552) if n != 12]
    assert (facts["hobit"] == "TRAFIKKONTROLL").sum() == 549


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_quote_open_over_three_lines_of_plats_stores_no_other_lines(tmp_path: Path, encoding: str) -> None:
    rows = [storm_row(n, text=f"Hemlig text {n}") for n in range(20)]
    rows[4][4] = '"Eskilstuna'  # line 6
    rows[7][4] = 'Eskilstuna"'  # line 9
    facts, rejected, _ = read(write(tmp_path / "storm.csv", STORM_HEADER, rows, encoding), Source.STORM)
    assert len(facts) + len(rejected) == 20
    assert rejected[["line", "reason"]].values.tolist() == [[6, UNBALANCED], [9, UNBALANCED]]
    assert sorted(facts["line"]) == [n for n in range(2, 22) if n not in (6, 9)]
    assert not facts["plats"].str.contains("\n|Hemlig", regex=True).any()


def test_line_breaks_in_free_text_still_make_one_record(tmp_path: Path) -> None:
    rows = [storm_row(n) for n in range(3)]
    rows[1][7] = '"rad ett\nrad två; med semikolon"'
    facts, rejected, _ = read(write(tmp_path / "storm.csv", STORM_HEADER, rows, "cp1252", "\n"), Source.STORM)
    assert rejected.empty
    assert facts["line"].tolist() == [2, 3, 5]


@pytest.mark.parametrize("last_newline", [True, False])
def test_a_quote_left_open_to_the_end_of_the_file(tmp_path: Path, last_newline: bool) -> None:
    rows = [status_row(n) for n in range(1, 6)]
    rows[2][5] = '"Eskil;stuna'  # line 4: the rest of the file would be one value
    path = write(tmp_path / "s.csv", STATUS_HEADER, rows, "utf-8", "\n")
    if not last_newline:
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
    facts, rejected, _ = read(path, Source.STATUS)
    assert rejected[["line", "reason"]].values.tolist() == [[4, UNBALANCED]]
    assert sorted(facts["line"]) == [2, 3, 5, 6]


def test_a_quote_open_in_the_last_line(tmp_path: Path) -> None:
    rows = [status_row(n) for n in range(1, 4)]
    rows[2][9] = '"19121212-1212'
    facts, rejected, _ = read(write(tmp_path / "s.csv", STATUS_HEADER, rows, "utf-8", "\n"), Source.STATUS)
    assert rejected[["line", "reason"]].values.tolist() == [[4, UNBALANCED]]
    assert sorted(facts["line"]) == [2, 3]


def test_a_quote_open_longer_than_a_block_is_read_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tabular, "BLOCK_SIZE", 1024)
    rows = [status_row(n) for n in range(1, 301)]
    rows[100][8] = '"Hemlighetsgatan'  # line 102, never closed: far more than a block to the end
    rows[200][8] = "multi"  # the lines after it are ordinary records
    facts, rejected, _ = read(write(tmp_path / "s.csv", STATUS_HEADER, rows, "cp1252"), Source.STATUS)
    assert len(facts) + len(rejected) == 300
    assert rejected[["line", "reason"]].values.tolist() == [[102, UNBALANCED]]


def test_repeated_header_in_another_order_starts_a_section_and_summary_lines_are_named(
    tmp_path: Path,
) -> None:
    first = [status_row(n) for n in range(1, 4)]
    order = list(reversed(range(len(STATUS_HEADER))))
    second = [[status_row(n)[i] for i in order] for n in range(4, 7)]
    lines = [
        ";".join(STATUS_HEADER),  # 1
        *(";".join(r) for r in first),  # 2-4
        "Totalt;3",  # 5
        ";".join(STATUS_HEADER[i] for i in order),  # 6: glued-on export, columns reversed
        *(";".join(r) for r in second),  # 7-9
        "Summa;;3",  # 10
    ]
    path = tmp_path / "glued.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    facts, rejected, notes = read(path, Source.STATUS)
    assert sorted(facts["line"]) == [2, 3, 4, 7, 8, 9]
    assert facts.sort_values("line")["arendenummer"].tolist() == [f"5000-K{n:06d}-20" for n in range(1, 7)]
    assert (facts["brottskod"] == "5010").all()
    assert rejected[["line", "reason"]].values.tolist() == [[5, SUMMARY_LINE], [10, SUMMARY_LINE]]
    assert notes == [
        "line 6: the header row again (in another column order): the lines after it are read with it"
    ]


def test_a_file_rewritten_while_it_is_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file really changes between two batches (small blocks make several): the read says so."""
    monkeypatch.setattr(tabular, "BLOCK_SIZE", 4096)
    path = write(tmp_path / "s.csv", STATUS_HEADER, [status_row(n) for n in range(1, 400)], "utf-8")
    batches = read_export(open_export(path, Source.STATUS))
    next(batches)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # truncated in place, as a copy in progress would
    with pytest.raises(InputFileError, match=r"s\.csv: changed while being read: not loaded"):
        list(batches)


def test_a_file_rewritten_between_its_check_and_its_read_is_refused_by_its_hash(tmp_path: Path) -> None:
    """Same size, same modification time, other bytes: only the hash of what was read can tell."""
    path = write(tmp_path / "s.csv", STATUS_HEADER, [status_row(n) for n in range(1, 50)], "utf-8")
    export = open_export(path, Source.STATUS)
    before = path.stat()
    path.write_bytes(path.read_bytes().replace(b"5010", b"5011"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(InputFileError, match=r"s\.csv: changed while being read: not loaded"):
        list(read_export(export))
