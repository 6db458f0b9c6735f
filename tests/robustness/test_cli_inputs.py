"""`lofte run` as a real process over a folder of broken exports beside good ones: each broken file gets
one clear line naming it and exit code 3, the good files load completely, and the personal data planted
in every input appears in no warehouse table, log line, artifact or report."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from load.warehouse import Warehouse
from schemas import warehouse as w
from tests.conftest import ESKILSTUNA_2020
from tests.expected import scan_warehouse
from tests.robustness.conftest import LOFTE, PrefectServer, run_lofte
from tests.robustness.corpus import (
    PII_MARKERS,
    STORM_HEADER,
    broken_status_files,
    csv_text,
    write_good_status,
    write_good_storm,
)

pytestmark = pytest.mark.flow


def test_broken_files_are_named_and_the_good_ones_load_without_leaking_personal_data(
    tmp_path: Path, prefect_server: PrefectServer
) -> None:
    inbox = tmp_path / "status"
    broken = broken_status_files(inbox)
    good = write_good_status(inbox / "z_good.csv")
    storm_dir = tmp_path / "storm"
    storm_dir.mkdir()
    hrs = write_good_storm(storm_dir / "storm.csv")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"

    done = run_lofte(
        prefect_server,
        "run",
        "--promises", str(ESKILSTUNA_2020 / "promises.yaml"),
        "--areas", str(ESKILSTUNA_2020 / "areas.geojson"),
        "--status", str(inbox),
        "--storm", str(storm_dir),
        "--warehouse", url,
        # Every log line of the flow also reaches the terminal output scanned below.
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="INFO",
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output and 'File "' not in output
    assert "z_good.csv (status, cp1252): 7 rows read" in output  # the flow's own log lines were scanned
    unreadable = [
        line for line in done.stderr.splitlines() if line.startswith("error") or "unreadable:" in line
    ]
    for name in broken:
        mine = [line for line in unreadable if name in line and line.startswith("unreadable:")]
        assert len(mine) == 1, f"{name}: {unreadable}"
    assert len([line for line in unreadable if line.startswith("unreadable:")]) == len(broken)
    assert "z_good.csv: 7 rows read, 5 loaded, 2 rejected" in done.stdout
    assert "storm.csv: 4 rows read, 4 loaded, 0 rejected" in done.stdout
    assert "look swapped" not in done.stdout  # one pair of four: a row warning, not a file warning

    store = Warehouse(url)
    with store.begin() as conn:
        crimes = set(conn.execute(sa.select(w.fact_brott.c.arendenummer)).scalars())
        storm = set(conn.execute(sa.select(w.fact_handelserapport.c.handelsenummer)).scalars())
        files = conn.execute(sa.select(w.load_file.c.file_name, w.load_file.c.status)).all()
        rejected = conn.execute(sa.select(w.rejected_row.c.line, w.rejected_row.c.reason)).all()
        invalid_pairs = conn.execute(
            sa.select(sa.func.count()).where(w.fact_handelserapport.c.koordinat_status == "ogiltig")
        ).scalar_one()
    store.dispose()
    assert crimes == set(good["loaded"]) and storm == set(hrs)
    assert dict(files) == {
        **dict.fromkeys(broken, "unreadable"),
        "z_good.csv": "loaded",
        "storm.csv": "loaded",
    }
    assert sorted(line for line, _ in rejected) == good["rejected_lines"]
    assert invalid_pairs == 1

    audit = run_lofte(prefect_server, "audit", "--warehouse", url)
    assert audit.returncode == 0, audit.stderr
    assert "z_good.csv [status, loaded]: 7 rows read = 5 loaded + 2 rejected" in audit.stdout
    assert "Registreringsdatum unparseable: 1 row, line 4" in audit.stdout
    assert "expected 10 fields, found 5: 1 row, line 6" in audit.stdout
    for name in broken:
        assert f"{name} [status, unreadable]: " in audit.stdout

    reports = [
        run_lofte(prefect_server, "report", "--kommun", "0484", "--year", "2020", *extra, "--warehouse", url)
        for extra in ([], ["--public"], ["--public", "--format", "csv"])
    ]
    assert all(r.returncode == 0 for r in reports), [r.stderr for r in reports]
    public = reports[1].stdout
    assert "<3" in public  # two crimes in an area in one tertial: hidden

    # Personal data: nowhere in the warehouse, the output, the reports, or Prefect's database (logs and
    # artifacts of every run of this worker's server live there).
    assert scan_warehouse(url, PII_MARKERS) == []
    texts = [output, audit.stdout, audit.stderr, *[r.stdout + r.stderr for r in reports]]
    assert [m for m in PII_MARKERS for t in texts if m in t] == []
    for stored in prefect_server.home.rglob("*"):
        if stored.is_file():
            data = stored.read_bytes()
            assert [m for m in PII_MARKERS if m.encode() in data] == [], stored


def test_untrusted_inputs_are_named_and_nothing_is_swallowed(
    tmp_path: Path, prefect_server: PrefectServer
) -> None:
    """A real `lofte run`: a cp1252 STORM export with a stray quote loads every line; a FIFO named on the
    command line is refused in one line (it would otherwise hang); special entries in a folder are
    listed as skipped; a file name holding a line break prints no line of its own."""
    storm_dir = tmp_path / "storm"
    storm_dir.mkdir()
    rows = [
        [f"{2_000_000 + n}", "2020-05-01T10:00:00+02:00", "TRAFIKKONTROLL", "0484", "Centrum", "", "", "kort"]
        for n in range(550)
    ]
    rows[10][7] = '"Stick härifrån sa han'
    rows[110][7] = 'Anmälaren sa "hej" till patrullen'
    forged = "run X: follow-up recomputed for 0484 2020"
    storm_file = storm_dir / f"storm.csv\n{forged}"
    storm_file.write_bytes(csv_text(STORM_HEADER, rows).replace("\n", "\r\n").encode("cp1252"))
    os.mkfifo(storm_dir / "pipe.csv")
    (storm_dir / "arkiv").mkdir()
    fifo = tmp_path / "status.csv"
    os.mkfifo(fifo)
    done = run_lofte(
        prefect_server,
        "run",
        "--promises", str(ESKILSTUNA_2020 / "promises.yaml"),
        "--areas", str(ESKILSTUNA_2020 / "areas.geojson"),
        "--status", str(fifo),
        "--storm", str(storm_dir),
        "--warehouse", f"duckdb:///{tmp_path / 'w.duckdb'}",
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output
    assert [line for line in done.stderr.splitlines() if str(fifo) in line] == [
        f"unreadable: {fifo}: a named pipe (FIFO), not a regular file: not read"
    ]
    assert (
        f"skipped: {storm_dir / 'arkiv'}: a sub-folder: skipped (only the folder's own files are read)"
        in done.stderr
    )
    assert f"skipped: {storm_dir / 'pipe.csv'}: a named pipe (FIFO), not a file: skipped" in done.stderr
    assert (
        "storm.csv\\nrun X: follow-up recomputed for 0484 2020: 550 rows read, 549 loaded, 1 rejected"
        in done.stdout
    )
    assert "rejected: unbalanced quote: 1 row, line 12" in done.stdout
    assert [line for line in output.splitlines() if line.startswith(forged)] == []


def _temporary_apis(home: Path) -> list[int]:
    """Processes of a command's temporary Prefect API (flows/prefect_api.py) over this Prefect home."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"PREFECT__SERVER_EPHEMERAL=1" in environ and f"PREFECT_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_a_wrong_promises_file_is_one_line_and_stops_the_orchestration_begun_meanwhile(
    tmp_path: Path, prefect_server: PrefectServer
) -> None:
    """The temporary API boots while the configuration is read: a wrong file ends the command at once,
    and the API it began goes with it."""
    promises = tmp_path / "promises.yaml"
    promises.write_text("kommunkod: [0484\n", encoding="utf-8")
    env = prefect_server.env()
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [str(LOFTE), "run", "--promises", str(promises), "--areas", str(ESKILSTUNA_2020 / "areas.geojson"),
         "--status", str(ESKILSTUNA_2020 / "status"), "--warehouse", f"duckdb:///{tmp_path / 'w.duckdb'}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {promises}:2:1: not valid YAML"), done.stderr
    assert _temporary_apis(prefect_server.home) == []
    assert not (tmp_path / "w.duckdb").exists()  # nothing was begun
