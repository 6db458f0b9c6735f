"""Reading the run's configuration files: promises (YAML), areas (GeoJSON), header aliases (YAML)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from extract.readers import Aliases
from extract.tabular import read_text
from schemas.aliases import parse_aliases, parse_local_hobit_codes
from schemas.areas import parse_areas_text
from schemas.errors import ConfigError, InputFileError
from schemas.promises import Promises, parse_promises
from transform.areas import Area, areas_of
from transform.text import pad_code4


def load_promises(path: Path, local_hobit: Iterable[str] = ()) -> Promises:
    try:
        return parse_promises(read_text(path), str(path), local_hobit)
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None


def load_areas(path: Path) -> list[Area]:
    try:
        text = read_text(path)
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    return areas_of(parse_areas_text(text, str(path)))


def load_population(path: Path) -> pd.DataFrame:
    """A population file with the shipped file's columns (kommunkod, year, folkmangd; kommun optional):
    one row per (kommunkod, year), the population on 31 December."""
    try:
        text = read_text(path)
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"kommunkod", "year", "folkmangd"} - {(c or "").strip() for c in reader.fieldnames or []}
    if missing:
        raise ConfigError(f"{path}: columns missing: {', '.join(sorted(missing))}")
    rows: dict[tuple[str, int], int] = {}
    for line, row in enumerate(reader, start=2):
        kommunkod = pad_code4(row["kommunkod"])
        year, folkmangd = row["year"].strip(), row["folkmangd"].strip().replace(" ", "")
        if kommunkod is None or not year.isdigit() or not folkmangd.isdigit() or int(folkmangd) == 0:
            raise ConfigError(f"{path}:{line}: expected a kommunkod, a year and a population, got {row}")
        rows[(kommunkod, int(year))] = int(folkmangd)
    return pd.DataFrame(
        [{"kommunkod": k, "year": y, "folkmangd": n, "source": path.name} for (k, y), n in rows.items()],
        columns=["kommunkod", "year", "folkmangd", "source"],
    )


def load_hobit_codes(path: Path | None) -> tuple[str, ...]:
    """`hobit_codes: [CODE, …]` of the aliases file: local HOBIT codes a promises file may match."""
    if path is None:
        return ()
    try:
        return parse_local_hobit_codes(read_text(path), str(path))
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None


def load_aliases(path: Path | None) -> Aliases:
    """`source: {contract column: [other header names]}` (`schemas.aliases`); none without a file."""
    if path is None:
        return {}
    try:
        return parse_aliases(read_text(path), str(path))
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
