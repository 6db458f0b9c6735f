"""`lofte run`'s flow end to end against known answers, on DuckDB and on PostgreSQL.

The Eskilstuna 2020 fixture was made independently of this code (shared/samples): it catches a reader
and a generator that share one misreading of the contract.
"""

from __future__ import annotations

import json
from pathlib import Path

from flows.followup import followup_run
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020
from tests.expected import actual_answers, assert_matches, scan_warehouse


def _fixture_files(root: Path) -> list[tuple[Source, Path]]:
    return [
        *[(Source.STATUS, p) for p in sorted((root / "status").iterdir())],
        *[(Source.STORM, p) for p in sorted((root / "storm").iterdir())],
        *[(Source.ACTIVITIES, p) for p in sorted((root / "activities").iterdir())],
    ]


def test_eskilstuna_2020_gives_the_known_answers(warehouse_url: str) -> None:
    expected = json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8"))
    summary = followup_run(
        [ESKILSTUNA_2020 / "promises.yaml"],
        ESKILSTUNA_2020 / "areas.geojson",
        _fixture_files(ESKILSTUNA_2020),
        warehouse_url=warehouse_url,
    )
    assert summary.merged is not None and ("0484", 2020) in summary.merged.followup_partitions
    assert all(a.rows_read == a.rows_loaded + a.rows_rejected for a in summary.audits)
    assert_matches(warehouse_url, expected)

    # A rerun of the same files gives identical values (only run_id and updated_at move).
    first = actual_answers(warehouse_url, "0484", 2020)
    followup_run(
        [ESKILSTUNA_2020 / "promises.yaml"],
        ESKILSTUNA_2020 / "areas.geojson",
        _fixture_files(ESKILSTUNA_2020),
        warehouse_url=warehouse_url,
    )
    assert actual_answers(warehouse_url, "0484", 2020) == first

    # No personal data anywhere in the warehouse.
    assert scan_warehouse(warehouse_url, expected["pii_markers"]) == []
