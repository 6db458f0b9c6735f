"""Reading the run's configuration files: promises (YAML), areas (GeoJSON), header aliases (YAML)."""

from __future__ import annotations

from pathlib import Path

from extract.readers import Aliases
from extract.tabular import read_text
from schemas.aliases import parse_aliases
from schemas.areas import parse_areas_text
from schemas.errors import ConfigError, InputFileError
from schemas.promises import Promises, parse_promises
from transform.areas import Area, areas_of


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
    return areas_of(parse_areas_text(text, str(path)))


def load_aliases(path: Path | None) -> Aliases:
    """`source: {contract column: [other header names]}` (`schemas.aliases`); none without a file."""
    if path is None:
        return {}
    try:
        return parse_aliases(read_text(path), str(path))
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
