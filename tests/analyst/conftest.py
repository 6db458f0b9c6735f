"""A warehouse loaded once per backend with the Eskilstuna 2020 fixture, through the pipeline's plain
functions (extract/, transform/, load/) in the flow's order: no Prefect start-up outside tests/flows.

The loaded warehouses are session-scoped (one per backend and worker): the analyst tests only read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import read_config
from pipeline.run import load_exports
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020, fresh_postgres_database
from tests.expected import export_files

RUN_ID = "20201231T000000Z-analyst"


def fixture_files(root: Path) -> list[tuple[Source, Path]]:
    return export_files(root)


def load_fixture(url: str, root: Path = ESKILSTUNA_2020, run_id: str = RUN_ID) -> None:
    """What `lofte run` does for one run, through the tasks' own functions (no Prefect start-up)."""
    load_exports(
        url,
        export_files(root),
        read_config([root / "promises.yaml"], root / "areas.geojson", None),
        run_id=run_id,
    )


@pytest.fixture(scope="session")
def loaded_duckdb(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('analyst') / 'warehouse.duckdb'}"
    load_fixture(url)
    return url


@pytest.fixture(scope="session")
def loaded_postgres() -> Iterator[str]:
    with fresh_postgres_database() as url:
        load_fixture(url)
        yield url


@pytest.fixture(params=["duckdb", "postgres"])
def loaded_url(request: pytest.FixtureRequest) -> str:
    """The fixture's warehouse on each backend (loaded once per session and backend)."""
    return str(request.getfixturevalue(f"loaded_{request.param}"))
