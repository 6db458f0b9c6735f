"""Readers on real files: every supported format and encoding, header rules, aliases, personal data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from extract.config import load_aliases
from extract.readers import open_export, read_export
from schemas.contracts import Source

HEADER = [
    "Ärendenummer",
    "Brottsnummer",
    "Brottskod",
    "Registreringsdatum",
    "Kommunkod",
    "Nord",
    "Öst",
    "Brottsplats",
    "Misstänkt personnummer",
    "Avdelning",
]
ROWS = [
    [
        "5000-K1-19",
        "1",
        "5010",
        "2019-04-30 23:59",
        "0484",
        "6582365,4",
        "584000,1",
        "Provgatan 1",
        "19000101-0001",
        "X",
    ],
    ["5000-K2-19", "1", "0857", "2019-05-01 00:00", "0484", "", "", "Provgatan 2", "19000101-0002", "Y"],
    ["5000-K3-19", "2", "5011", "2019-09-01 00:00:00", "0301", "6582365.4", "584000.1", "", "", ""],
]


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str, newline: str) -> Path:
    lines = [";".join(header), *(";".join(r) for r in rows)]
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def _frame(path: Path, source: Source = Source.STATUS, aliases: Path | None = None) -> pd.DataFrame:
    export = open_export(path, source, load_aliases(aliases))
    batches = list(read_export(export))
    assert all(b.rejected.empty for b in batches)
    return pd.concat([b.facts for b in batches], ignore_index=True)


@pytest.mark.parametrize(
    ("encoding", "newline", "detected"),
    [("cp1252", "\r\n", "cp1252"), ("utf-8-sig", "\n", "utf-8-sig"), ("utf-8", "\r\n", "utf-8")],
)
def test_csv_in_every_encoding_reads_the_same(
    tmp_path: Path, encoding: str, newline: str, detected: str
) -> None:
    path = _write_csv(tmp_path / "status.csv", HEADER, ROWS, encoding, newline)
    export = open_export(path, Source.STATUS)
    assert export.facts.encoding == detected
    facts = _frame(path)
    assert facts["arendenummer"].tolist() == ["5000-K1-19", "5000-K2-19", "5000-K3-19"]
    assert facts["brottskod"].tolist() == ["5010", "0857", "5011"]
    assert facts["kommunkod"].tolist() == ["0484", "0484", "0301"]
    assert facts["tertial"].tolist() == [1, 2, 3]
    assert facts["nord"].tolist()[0] == pytest.approx(6582365.4)
    assert facts["koordinat_status"].tolist() == ["ok", "saknas", "ok"]
    assert facts["line"].tolist() == [2, 3, 4]
    # Personal data and unknown columns are never carried past the reader.
    assert not {"brottsplats", "personnummer", "Avdelning"} & set(facts.columns)
    assert "Provgatan" not in facts.to_string() and "19000101" not in facts.to_string()


def test_xlsx_with_upper_case_headers_numeric_codes_and_date_cells(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([h.upper() for h in reversed(HEADER)])
    sheet.append(
        list(
            reversed(
                ["5000-K1-19", 1, 5010, datetime(2019, 4, 30, 23, 59), 484, 6582365.4, 584000.1, "P", "1", ""]
            )
        )
    )
    sheet.append(list(reversed(["5000-K2-19", 1, 857, datetime(2019, 5, 1), 484, None, None, "", "", ""])))
    path = tmp_path / "status.xlsx"
    workbook.save(path)
    facts = _frame(path)
    assert facts["brottskod"].tolist() == ["5010", "0857"]
    assert facts["kommunkod"].tolist() == ["0484", "0484"]
    assert facts["tertial"].tolist() == [1, 2]
    assert facts["line"].tolist() == [2, 3]


def test_headers_match_case_insensitively_trimmed_in_any_order_and_by_alias(tmp_path: Path) -> None:
    header = ["  brottskod ", "REGISTRERINGSDATUM", "Kommun kod", "Ärende nr", "brottsnummer"]
    rows = [["5010", "2019-06-01 10:00", "484", "5000-K9-19", "1"]]
    path = _write_csv(tmp_path / "s.csv", header, rows, "utf-8", "\n")
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text(
        "status:\n  Kommunkod: [Kommun kod]\n  Ärendenummer: ['Ärende nr']\n", encoding="utf-8"
    )
    facts = _frame(path, aliases=aliases)
    assert facts[["arendenummer", "brottskod", "kommunkod"]].values.tolist() == [
        ["5000-K9-19", "5010", "0484"]
    ]


def test_quoted_values_with_separators_and_newlines_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = (
        "Händelsenummer;Starttid;HOBIT;Kommunkod;Plats;Sammanfattning\n"
        '1;2019-05-01T00:30:00+02:00;Trafikkontroll;0484;"Resecentrum; spår 2";"rad ett\nrad två"\n'
        "2;2019-04-30T22:30:00Z;ORDNINGSHÅLLNING;0484;Centrum;kort\n"
    )
    path = tmp_path / "storm.csv"
    path.write_text(text, encoding="utf-8")
    facts = _frame(path, Source.STORM)
    assert facts["plats"].tolist() == ["Resecentrum; spår 2", "Centrum"]
    assert facts["hobit"].tolist() == ["TRAFIKKONTROLL", "ORDNINGSHALLNING"]
    assert facts["tertial"].tolist() == [2, 2]
    assert facts["line"].tolist() == [2, 4]  # the first record spans lines 2 and 3


def test_rejected_rows_keep_their_line_reason_and_no_personal_data(tmp_path: Path) -> None:
    rows = [r[:] for r in ROWS]
    rows[1][2] = ""  # Brottskod missing
    rows[2][3] = "2019-13-45 10:00"
    path = _write_csv(tmp_path / "s.csv", HEADER, rows, "cp1252", "\r\n")
    batches = list(read_export(open_export(path, Source.STATUS)))
    rejected = pd.concat([b.rejected for b in batches])
    assert rejected[["line", "reason"]].values.tolist() == [
        [3, "Brottskod missing"],
        [4, "Registreringsdatum unparseable"],
    ]
    assert rejected["kommunkod"].tolist() == ["0484", "0301"]
    assert rejected["year"].tolist()[0] == 2019 and pd.isna(rejected["year"].tolist()[1])
    assert "Provgatan" not in rejected.to_string() and "19000101" not in rejected.to_string()
