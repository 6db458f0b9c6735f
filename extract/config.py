"""Reading the run's configuration files: promises (YAML), areas (GeoJSON), header aliases (YAML)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import yaml

from extract.readers import Aliases
from extract.tabular import read_text
from schemas.contracts import CONTRACTS, Source
from schemas.errors import ConfigError, InputFileError
from schemas.promises import Promises, parse_promises
from transform.areas import Area, parse_areas
from transform.text import pad_code4


def load_promises(path: Path) -> Promises:
    try:
        return parse_promises(read_text(path), str(path))
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None


def load_areas(path: Path) -> list[Area]:
    try:
        text = read_text(path)
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    return parse_areas(document, str(path))


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


def load_aliases(path: Path | None) -> Aliases:
    """`source: {contract column: [other header names]}`; errors name the bad key."""
    if path is None:
        return {}
    try:
        document = yaml.safe_load(read_text(path)) or {}
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: aliases are a mapping of source → column → [header names]")
    aliases: Aliases = {}
    for source_name, columns in document.items():
        try:
            source = Source(str(source_name))
        except ValueError:
            raise ConfigError(f"{path}: {source_name!r}: not a source (status, storm, activities)") from None
        if not isinstance(columns, dict):
            raise ConfigError(f"{path}: {source_name!r}: expected column → [header names]")
        names = {c.name for c in CONTRACTS[source].columns}
        for column, headers in columns.items():
            if column not in names:
                where = f"{path}: {source_name!r}.{column!r}"
                raise ConfigError(f"{where}: not a column of the {source} contract")
            if isinstance(headers, str):
                headers = [headers]
            if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
                raise ConfigError(f"{path}: {source_name!r}.{column!r}: expected a list of header names")
            aliases.setdefault(source, {})[column] = headers
    return aliases
