"""Readers for the three exports: resolve headers against the contract, stream typed batches.

Personal-data columns and unknown columns are never carried past this module: only the positions of the
contract's non-personal columns are kept (`schemas.contracts.InputContract.stored`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from extract.tabular import FileFacts, file_facts, iter_batches
from schemas.contracts import CONTRACTS, Column, Kind, Source
from schemas.errors import InputFileError
from transform.rows import REJECTED_COLUMNS, WARNING_COLUMNS, TypedBatch, type_rows

# Per source: contract column name → other header names an export may use for it.
Aliases = dict[Source, dict[str, list[str]]]


@dataclass
class Export:
    """An export file opened and checked against its source's contract, ready to stream."""

    source: Source
    facts: FileFacts
    columns: dict[int, Column]  # header position → contract column (non-personal ones only)
    single_line: frozenset[int] = frozenset()  # header positions whose values may not hold line breaks


def _header_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def open_export(path: Path, source: Source, aliases: Aliases | None = None) -> Export:
    """Hash and detect the file, match its header to the contract. Raises InputFileError."""
    facts = file_facts(path)
    contract = CONTRACTS[source]
    names: dict[str, Column] = {}
    for column in contract.columns:
        names[_header_key(column.name)] = column
        for alias in (aliases or {}).get(source, {}).get(column.name, []):
            names[_header_key(alias)] = column
    positions: dict[str, list[int]] = {}
    for position, header in enumerate(facts.header):
        match = names.get(_header_key(header))
        if match is not None:
            positions.setdefault(match.name, []).append(position)
    doubled = [name for name, found in positions.items() if len(found) > 1]
    if doubled:
        raise InputFileError(f"{path}:1: column {doubled[0]!r} appears more than once in the header")
    missing = [c.name for c in contract.columns if c.required and c.name not in positions]
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        raise InputFileError(
            f"{path}:1: required column {listed} missing from the header "
            f"(a {source} export; map other names with --aliases)"
        )
    columns = {
        found[0]: contract.column(name)
        for name, found in positions.items()
        if contract.column(name).kind is not Kind.PERSONAL
    }
    single_line = frozenset(
        found[0] for name, found in positions.items() if not contract.column(name).line_breaks
    )
    return Export(source, facts, columns, single_line)


def read_export(export: Export) -> Iterator[TypedBatch]:
    """Typed batches of the export; lines pyarrow could not split are rejected rows of their own."""
    contract = CONTRACTS[export.source]
    keep = {position: column.name for position, column in export.columns.items()}
    for batch in iter_batches(export.facts, keep, export.single_line):
        raw = pd.DataFrame(
            {export.columns[p].field: pd.array(values, dtype="str") for p, values in batch.columns.items()}
        )
        for column in contract.stored:
            if column.field not in raw:
                raw[column.field] = pd.Series("", index=raw.index, dtype="str")
        typed = type_rows(export.source, raw, batch.lines) if len(batch) else _empty(export)
        del raw  # the text, typed: not kept while the caller stages the batch
        if batch.invalid:
            invalid = pd.DataFrame(
                {
                    "line": [i.line for i in batch.invalid],
                    "column_name": None,
                    "reason": [i.reason for i in batch.invalid],
                    "kommunkod": None,
                    "year": None,
                    # The line could not be split into fields, so none of it is kept (it may hold PII).
                    "fields_json": "{}",
                }
            )
            typed.rejected = pd.concat([typed.rejected, invalid], ignore_index=True)[REJECTED_COLUMNS]
        del batch
        yield typed


def _empty(export: Export) -> TypedBatch:
    raw = pd.DataFrame({c.field: pd.Series([], dtype="string") for c in CONTRACTS[export.source].stored})
    typed = type_rows(export.source, raw, np.array([], dtype=np.int64))
    typed.warnings = pd.DataFrame(columns=WARNING_COLUMNS)
    return typed
