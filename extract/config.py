"""Reading the run's configuration files: promises (YAML), areas (GeoJSON), header aliases (YAML)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from extract.readers import Aliases
from extract.tabular import read_text
from schemas.contracts import CONTRACTS, Source
from schemas.errors import ConfigError, InputFileError
from schemas.promises import Promises, parse_promises
from transform.areas import Area, parse_areas


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
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    return parse_areas(document, str(path))


# The aliases file's one key that is not a source: HOBIT codes in local use beyond the contract's seven,
# which a promises file may then match.
HOBIT_CODES_KEY = "hobit_codes"


def _aliases_document(path: Path) -> dict[Any, Any]:
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
    return document


def load_hobit_codes(path: Path | None) -> tuple[str, ...]:
    """`hobit_codes: [CODE, …]` of the aliases file: local HOBIT codes a promises file may match."""
    if path is None:
        return ()
    codes = _aliases_document(path).get(HOBIT_CODES_KEY) or []
    if isinstance(codes, str):
        codes = [codes]
    if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
        raise ConfigError(f"{path}: {HOBIT_CODES_KEY!r}: expected a list of HOBIT codes")
    return tuple(codes)


def load_aliases(path: Path | None) -> Aliases:
    """`source: {contract column: [other header names]}`; errors name the bad key."""
    if path is None:
        return {}
    document = _aliases_document(path)
    aliases: Aliases = {}
    for source_name, columns in document.items():
        if source_name == HOBIT_CODES_KEY:
            continue
        try:
            source = Source(str(source_name))
        except ValueError:
            raise ConfigError(
                f"{path}: {source_name!r}: not a source (status, storm, activities) or {HOBIT_CODES_KEY}"
            ) from None
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
