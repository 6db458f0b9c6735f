"""A warehouse loaded once per backend with the Eskilstuna 2020 fixture, through the pipeline's plain
functions (extract/, transform/, load/) in the flow's order: no Prefect start-up outside tests/flows.

The loaded warehouses are session-scoped (one per backend and worker): the analyst tests only read them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from extract.config import load_areas, load_promises
from extract.readers import open_export, read_export
from load.merge import merge_run
from load.staging import FileAudit, record_file, stage_batch, start_run
from load.warehouse import Warehouse
from schemas.contracts import CONTRACTS, Source
from tests.conftest import ESKILSTUNA_2020, PG_ADMIN_URL
from transform.areas import AreaIndex, area_memberships

RUN_ID = "20201231T000000Z-analyst"


def fixture_files(root: Path) -> list[tuple[Source, Path]]:
    return [
        *[(Source.STATUS, p) for p in sorted((root / "status").iterdir())],
        *[(Source.STORM, p) for p in sorted((root / "storm").iterdir())],
        *[(Source.ACTIVITIES, p) for p in sorted((root / "activities").iterdir())],
    ]


def load_fixture(url: str, root: Path = ESKILSTUNA_2020, run_id: str = RUN_ID) -> None:
    """What `lofte run` does for one run (flows/followup.py), called as plain functions."""
    promises = [load_promises(root / "promises.yaml")]
    areas = load_areas(root / "areas.geojson")
    index = AreaIndex(areas)
    store = Warehouse(url)
    try:
        store.migrate()
        start_run(store, run_id, "run")
        for file_seq, (source, path) in enumerate(fixture_files(root), start=1):
            audit = FileAudit(file_seq=file_seq, source=source, path=str(path))
            export = open_export(path, source, {})
            audit.sha256, audit.size_bytes = export.facts.sha256, export.facts.size_bytes
            audit.encoding = export.facts.encoding or "xlsx"
            record_file(store, run_id, audit)
            for typed in read_export(export):
                memberships = (
                    area_memberships(typed.facts, index, CONTRACTS[source].key)
                    if source is not Source.ACTIVITIES
                    else None
                )
                stage_batch(store, run_id, audit, typed, memberships)
                audit.add(typed)
            audit.status = "staged"
            record_file(store, run_id, audit)
        merge_run(store, run_id, promises, areas)
    finally:
        store.dispose()


@pytest.fixture(scope="session")
def loaded_duckdb(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('analyst') / 'warehouse.duckdb'}"
    load_fixture(url)
    return url


@pytest.fixture(scope="session")
def loaded_postgres() -> Iterator[str]:
    name = f"lofte_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        load_fixture(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["duckdb", "postgres"])
def loaded_url(request: pytest.FixtureRequest) -> str:
    """The fixture's warehouse on each backend (loaded once per session and backend)."""
    return str(request.getfixturevalue(f"loaded_{request.param}"))
