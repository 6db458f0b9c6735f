"""A file's audit: what it gave, summed over its batches, and small whatever the file holds."""

from __future__ import annotations

import pandas as pd
from prefect.utilities.collections import visit_collection

from load.staging import FIRST_LINES_KEPT, FileAudit
from schemas.contracts import Source
from transform.rows import REJECTED_COLUMNS, WARNING_COLUMNS, TypedBatch


def _batch(rejected: dict[str, range], loaded: int) -> TypedBatch:
    rows = [
        {"line": line, "column_name": "Brottskod", "reason": reason, "kommunkod": None, "year": None,
         "fields_json": "{}"}
        for reason, lines in rejected.items()
        for line in lines
    ]  # fmt: skip
    return TypedBatch(
        facts=pd.DataFrame({"line": range(loaded)}),
        rejected=pd.DataFrame(rows, columns=REJECTED_COLUMNS),
        warnings=pd.DataFrame(columns=WARNING_COLUMNS),
    )


def test_rejected_rows_are_counted_per_reason_with_their_first_lines_across_batches() -> None:
    audit = FileAudit(file_seq=1, source=Source.STATUS, path="status.csv")
    audit.add(_batch({"Brottskod missing": range(2, 8), "Kommunkod missing": range(100, 101)}, loaded=50))
    audit.add(_batch({"Brottskod missing": range(200, 260)}, loaded=20))

    assert (audit.rows_read, audit.rows_loaded, audit.rows_rejected) == (137, 70, 67)
    missing_code = audit.rejection_reasons["Brottskod missing"]
    assert missing_code.rows == 66
    assert missing_code.first == [2, 3, 4, 5, 6, 7, 200, 201, 202, 203]  # the file's first, in order
    assert len(missing_code.first) == FIRST_LINES_KEPT
    only = audit.rejection_reasons["Kommunkod missing"]
    assert (only.rows, only.first) == (1, [100])


def test_an_audit_of_a_million_rejected_rows_stays_small_for_prefect_to_walk() -> None:
    """Prefect walks every value of a task's parameters and a flow's result: a file of a million bad
    rows must not give it a million line numbers to visit (it took 5 s per walk)."""
    audit = FileAudit(file_seq=1, source=Source.STATUS, path="status.csv")
    audit.add(_batch({"Brottskod missing": range(1, 1_000_001)}, loaded=0))
    visited: list[object] = []
    visit_collection(audit, visited.append, return_data=False)

    assert audit.rejection_reasons["Brottskod missing"].rows == 1_000_000
    assert audit.rows_rejected == 1_000_000
    assert len(visited) < 100
