"""A corpus of exports written by the tests: good files, each kind of broken file an export can be, and
planted PII.

Every value is made up. Personal-data columns carry recognisable markers (`PII_MARKERS`) so a test can scan
the warehouse, the logs and the reports for them; the markers also sit in lines that get rejected.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl

# Recognisable personal data: none of these may ever leave the reader.
PNR = "19121212-1212"
ADDRESS = "Hemlighetsgatan 77"
SUMMARY = "Anmälaren Kalle Hemligsson uppger"
PII_MARKERS = ["19121212", "Hemlighetsgatan", "Hemligsson"]

STATUS_HEADER = [
    "Ärendenummer",
    "Brottsnummer",
    "Brottskod",
    "Registreringsdatum",
    "Kommunkod",
    "Kommun",
    "Nord",
    "Öst",
    "Brottsplats",
    "Misstänkt personnummer",
]


def status_row(
    n: int, *, when: str = "2020-03-04 10:00", nord: str = "6582365,4", ost: str = "586912,0"
) -> list[str]:
    return [f"5000-K{n:06d}-20", "1", "5010", when, "0484", "Eskilstuna", nord, ost, ADDRESS, PNR]


def csv_text(header: list[str], rows: list[list[str]], sep: str = ";") -> str:
    return "".join(sep.join(r) + "\n" for r in [header, *rows])


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.write_bytes(csv_text(header, rows).encode(encoding))
    return path


def write_xlsx(path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [header, *rows]:
        sheet.append(row)
    workbook.save(path)
    return path


def good_status_rows(count: int = 6) -> list[list[str]]:
    return [status_row(i) for i in range(1, count + 1)]


def broken_status_files(folder: Path) -> dict[str, Path]:
    """Each broken case as a STATUS export; the key names the case."""
    folder.mkdir(parents=True, exist_ok=True)
    good = good_status_rows(3)
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        files[name] = folder / name

    put("a_empty.csv", b"")
    put("b_header_only.csv", csv_text(STATUS_HEADER, []).encode())
    # Random bytes that include a NUL and bytes undefined in Windows-1252 (fixed, so the test is exact).
    put("c_random_bytes.csv", bytes((i * 97 + 13) % 256 for i in range(4096)))
    put("d_utf16.csv", csv_text(STATUS_HEADER, good).encode("utf-16"))
    put("e_utf16_no_bom.csv", csv_text(STATUS_HEADER, good).encode("utf-16-le"))
    put("f_csv_renamed.xlsx", csv_text(STATUS_HEADER, good).encode())
    whole = write_xlsx(folder / "tmp_whole.xlsx", STATUS_HEADER, good).read_bytes()
    (folder / "tmp_whole.xlsx").unlink()
    put("g_truncated.xlsx", whole[: len(whole) // 2])
    put("h_commas.csv", csv_text(STATUS_HEADER, good, sep=",").encode())
    missing = [h for h in STATUS_HEADER if h != "Brottskod"]
    put("i_missing_column.csv", csv_text(missing, [r[:2] + r[3:] for r in good]).encode())
    put(
        "j_doubled_header.csv", csv_text([*STATUS_HEADER, "Kommunkod"], [[*r, "0484"] for r in good]).encode()
    )
    # A quote left open is no longer a broken file: its lines are read one by one
    # (tests/extract/test_untrusted_records.py).
    huge = [*good[:1], [*good[1][:5], "x" * (3 << 20), *good[1][6:]], *good[2:]]
    put("m_huge_field.csv", csv_text(STATUS_HEADER, huge).encode())
    # A zip that is no workbook at all.
    with zipfile.ZipFile(folder / "n_zip_not_workbook.xlsx", "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    files["n_zip_not_workbook.xlsx"] = folder / "n_zip_not_workbook.xlsx"
    return files


STORM_HEADER = ["Händelsenummer", "Starttid", "HOBIT", "Kommunkod", "Plats", "Nord", "Öst", "Sammanfattning"]


def write_good_status(path: Path) -> dict[str, Any]:
    """Six crimes with personal data in every personal column; line 4 is rejected (its date cannot be
    read) and line 6 cannot be split into fields, both still holding personal data. What a run must load."""
    rows = good_status_rows(6)
    rows[2][3] = "den fjärde mars"  # line 4: Registreringsdatum unparseable
    text = csv_text(STATUS_HEADER, rows[:4])
    text += f"5000-K999999-20;1;5010;{PNR};{ADDRESS}\n"  # line 6: too few fields, personal data inside
    text += csv_text(STATUS_HEADER, rows[4:]).split("\n", 1)[1]
    path.write_text(text, encoding="cp1252")
    loaded = [r[0] for i, r in enumerate(rows) if i != 2]
    return {"loaded": loaded, "rows_read": 7, "rejected_lines": [4, 6]}


def write_good_storm(path: Path) -> list[str]:
    """Four HRs whose free text names a person; one with a swapped pair (kept, without coordinates)."""
    rows = [
        [
            f"{1_234_567_000 + i}",
            "2020-05-01T00:30:00+02:00",
            "TRAFIKKONTROLL",
            "0484",
            "Centrum",
            "6582365",
            "586912",
            f"{SUMMARY} {PNR} bor på {ADDRESS}",
        ]
        for i in range(4)
    ]
    rows[3][5], rows[3][6] = rows[3][6], rows[3][5]
    path.write_text(csv_text(STORM_HEADER, rows), encoding="utf-8")
    return [r[0] for r in rows]
