"""What a run leaves for operators: the artifact shows the files' final states, and a file with warnings
is logged at WARNING."""

from __future__ import annotations

import logging

import pytest

from load.warehouse import Warehouse
from pipeline.config import read_config
from pipeline.run import load_exports
from pipeline.summary import summary_markdown
from sample.generator import write_sample
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020
from tests.expected import export_files


def test_the_artifact_lists_merged_files_as_loaded(duckdb_url: str) -> None:
    config = read_config([ESKILSTUNA_2020 / "promises.yaml"], ESKILSTUNA_2020 / "areas.geojson", None)
    summary = load_exports(duckdb_url, export_files(ESKILSTUNA_2020), config)
    store = Warehouse(duckdb_url, read_only=True)
    try:
        text = summary_markdown(store, summary)
    finally:
        store.dispose()
    rows = [line for line in text.splitlines() if line.startswith("| ") and line.count("|") == 7][1:]
    assert rows and all(line.endswith("| loaded |") for line in rows), rows
    assert "staged" not in text


def test_a_file_with_warnings_is_logged_at_warning(
    duckdb_url: str, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path_factory.mktemp("sample")
    write_sample(root, [2019], kommuner=1, scale=1, seed=2019)
    storm = sorted((root / "inbox" / "storm").iterdir())
    config = read_config(
        sorted((root / "config" / "promises").iterdir()), root / "config" / "areas.geojson", None
    )
    with caplog.at_level(logging.INFO, logger="lofte"):
        load_exports(duckdb_url, [(Source.STORM, p) for p in storm], config)
    warned = [r for r in caplog.records if "unknown HOBIT code" in r.getMessage()]
    assert warned and all(r.levelno == logging.WARNING for r in warned)
