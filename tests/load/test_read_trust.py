"""What a run does with files it cannot trust, in a real warehouse (both backends): a file rewritten
while it is read is not loaded and loads on the next run; a FIFO is refused without being opened; a
file name with a line break prints no line of its own."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer

import extract.tabular as tabular
import pipeline.stage as stage
from cli.runs import report_summary
from extract.inbox import InboxFile, folder_files
from extract.readers import open_export
from load.warehouse import Warehouse
from pipeline.config import RunConfig, read_config
from pipeline.plan import plan_night
from pipeline.run import load_exports
from pipeline.summary import summary_markdown
from schemas import warehouse as w
from schemas.contracts import Source
from schemas.errors import InputFileError
from tests.conftest import ESKILSTUNA_2020
from tests.robustness.corpus import STATUS_HEADER, status_row, write_csv

PROMISES = ESKILSTUNA_2020 / "promises.yaml"
AREAS = ESKILSTUNA_2020 / "areas.geojson"


def _files(url: str) -> list[tuple[str, str, str | None]]:
    store = Warehouse(url)
    with store.begin() as conn:
        rows = conn.execute(sa.select(w.load_file.c.status, w.load_file.c.error, w.load_file.c.sha256)).all()
        facts = conn.execute(sa.select(sa.func.count()).select_from(w.fact_brott)).scalar_one()
    store.dispose()
    return [(*r[:2], str(facts)) for r in rows]


def test_a_file_rewritten_while_it_is_read_is_not_loaded_and_loads_next_time(
    tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tabular, "BLOCK_SIZE", 4096)  # several batches: the file changes between two
    inbox = tmp_path / "inbox"
    (inbox / "status").mkdir(parents=True)
    path = write_csv(inbox / "status" / "status.csv", STATUS_HEADER, [status_row(n) for n in range(1, 301)])
    whole = path.read_bytes()
    batches = 0

    def rewrite_after_first_batch(phase: str, on_pause: object = None) -> None:
        nonlocal batches
        if phase == "read":
            batches += 1
            if batches == 1:
                path.write_bytes(whole[: len(whole) // 2])  # a copy still in progress: half the file

    monkeypatch.setattr(stage, "checkpoint", rewrite_after_first_batch)
    config = read_config([PROMISES], AREAS, None)
    first = load_exports(warehouse_url, [(Source.STATUS, path)], config)
    assert [a.status for a in first.audits] == ["unreadable"]
    assert first.audits[0].error == f"{path}: changed while being read: not loaded"
    assert first.unreadable  # the command exits 3
    assert _files(warehouse_url) == [("unreadable", f"{path}: changed while being read: not loaded", "0")]

    monkeypatch.setattr(stage, "checkpoint", lambda phase, on_pause=None: None)
    path.write_bytes(whole)  # whole again: the next night sees it as new and loads it
    assert [item.path for item in _night(warehouse_url, config, inbox)] == [path]
    second = load_exports(warehouse_url, [(Source.STATUS, path)], config)
    assert [(a.status, a.rows_loaded) for a in second.audits] == [("staged", 300)]
    assert sorted(s for s, _, _ in _files(warehouse_url)) == ["loaded", "unreadable"]
    assert _files(warehouse_url)[0][2] == "300"
    assert _night(warehouse_url, config, inbox) == []


def _night(url: str, config: RunConfig, inbox: Path) -> list[InboxFile]:
    store = Warehouse(url)
    try:
        return plan_night(store, config, inbox).files
    finally:
        store.dispose()


def test_special_files_are_refused_when_named_and_listed_when_in_a_folder(
    tmp_path: Path, duckdb_url: str
) -> None:
    folder = tmp_path / "status"
    folder.mkdir()
    good = write_csv(folder / "a.csv", STATUS_HEADER, [status_row(1)])
    fifo = folder / "pipe.csv"
    os.mkfifo(fifo)
    (folder / "old").mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "sock"))
    try:
        files, skipped = folder_files(folder)
    finally:
        listener.close()
    assert files == [good]
    assert skipped == [
        f"{folder / 'old'}: a sub-folder: skipped (only the folder's own files are read)",
        f"{fifo}: a named pipe (FIFO), not a file: skipped",
        f"{folder / 'sock'}: a socket, not a file: skipped",
    ]
    with pytest.raises(
        InputFileError, match=r"^/dev/null: a character device, not a regular file: not read$"
    ):
        open_export(Path("/dev/null"), Source.STATUS)
    # Named explicitly: refused in one line, never opened (opening a FIFO waits for a writer forever).
    summary = load_exports(
        duckdb_url, [(Source.STATUS, fifo), (Source.STATUS, good)], read_config([PROMISES], AREAS, None)
    )
    assert [(a.status, a.error) for a in summary.audits] == [
        ("unreadable", f"{fifo}: a named pipe (FIFO), not a regular file: not read"),
        ("staged", None),
    ]


def test_a_file_name_with_a_line_break_forges_no_line(
    tmp_path: Path, duckdb_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = "run X: follow-up recomputed for 0484 2020"
    path = write_csv(tmp_path / f"a.csv\n{forged}\n| b | c |", STATUS_HEADER, [status_row(1)])
    broken = tmp_path / f"b.csv\n{forged}\x1b[2J"
    broken.write_bytes(b"")
    summary = load_exports(
        duckdb_url, [(Source.STATUS, path), (Source.STATUS, broken)], read_config([PROMISES], AREAS, None)
    )
    with pytest.raises(typer.Exit):  # exit 3: the empty file
        report_summary(summary)
    printed = capsys.readouterr()
    store = Warehouse(duckdb_url)
    try:
        markdown = summary_markdown(store, summary)
    finally:
        store.dispose()
    for text in (printed.out, printed.err, markdown):
        assert not [line for line in text.splitlines() if line.startswith(forged)], text
        assert "\x1b" not in text
    assert "a.csv\\nrun X" in printed.out and "b.csv\\nrun X" in printed.err
    table = [line for line in markdown.splitlines() if "a.csv" in line]
    assert len(table) == 1 and table[0].count(" | ") == 5  # the name's '|' are escaped, not columns
