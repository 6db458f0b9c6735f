"""The activity register: trygghetsvandringar, medborgarforum and other activities, one file per year."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from sample import text, truth
from sample.geo import Kommun
from sample.writers import write_csv

HEADER = ["Datum", "Aktivitet", "Plats", "Kommunkod"]
TRYGGHETSVANDRING, MEDBORGARFORUM = "Trygghetsvandring", "Medborgarforum"

Row = tuple[str, str, str, str]  # Datum, Aktivitet, Plats, Kommunkod as written


def normalised_place(place: str) -> str:
    """How the contract compares places: trimmed, spaces collapsed, case-folded."""
    return " ".join(place.split()).casefold()


def display_place(place: str) -> str:
    """How an item is listed: trimmed and spaces collapsed, spelling as written."""
    return " ".join(place.split())


def odd_spacing(place: str) -> str:
    """A promised place as someone typed it: other case, extra spaces around and inside."""
    return "  " + "   ".join(place.upper().split()) + " "


def rows_for(k: Kommun, year: int, other_kommun: str, found: truth.Truth) -> list[Row]:
    """About ten lines per kommun and year; every activity that counts is also recorded in the truth."""
    met = k.trygghet_places[0]  # the other promised place gets no trygghetsvandring this year
    y, kod = year, k.kommunkod
    counted: list[Row] = [
        (f"{y}-02-12", TRYGGHETSVANDRING, met, kod),
        (f"{y}-03-03", TRYGGHETSVANDRING, k.other_place, kod),
        (f"{y}-05-07", TRYGGHETSVANDRING, odd_spacing(met), kod),  # matches `met` after normalising
        (f"{y}-07-04", TRYGGHETSVANDRING, k.other_place, kod),
        (f"{y}-09-20", TRYGGHETSVANDRING, f"{met} centrum", kod),  # not the promised place: nothing fuzzier
        (f"{y}-06-10", MEDBORGARFORUM, k.other_place, kod),
        (
            f"{y}-11-15",
            MEDBORGARFORUM,
            k.forum_place.lower() + "  ",
            kod,
        ),  # the only forum at the promised place
        (f"{y}-04-22", "Samverkansmöte", k.other_place, kod),  # counted in the totals, in no measure
        (f"{y - 1}-11-11", TRYGGHETSVANDRING, met, kod),  # previous year: belongs to year y-1
    ]
    for datum, aktivitet, plats, kommunkod in counted:
        found.activities.append(truth.Activity(kommunkod, datum, aktivitet, plats))
    duplicate = counted[1]  # the same activity twice is one activity
    elsewhere = (f"{y}-03-03", TRYGGHETSVANDRING, "Centrum", other_kommun)  # belongs to no kommun generated
    missing_place = (f"{y}-10-01", TRYGGHETSVANDRING, "", kod)  # rejected: Plats is required
    found.rejected["activities"].add((kod, y))
    return [*counted[:2], duplicate, *counted[2:5], elsewhere, *counted[5:], missing_place]


def write_year(folder: Path, year: int, rows: list[Row]) -> dict[str, int]:
    name = f"aktiviteter_{year}.csv"
    columns = [text.csv_safe(pa.array([r[i] for r in rows], pa.string())) for i in range(len(HEADER))]
    return {name: write_csv(folder / name, HEADER, columns, encoding="utf-8", newline="\n")}


def day(value: str) -> date:
    return date.fromisoformat(value)
