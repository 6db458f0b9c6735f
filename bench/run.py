"""`make bench`: lofte against the plain pandas + shapely reference, on the same files, in the same run.

For each scale: `lofte sample` writes a data set (reused when already there), then for several
repetitions, alternating in each: the reference script (bench/reference.py), `lofte run` into DuckDB (a
fresh file) and into PostgreSQL (a fresh database). Each is a subprocess; measured: wall time, rows per
second, peak RSS of the whole process tree (lofte starts a Prefect server subprocess) and of the main
process alone (the kernel's ru_maxrss from wait4, and /proc polling). Every run's answers are checked
against the data set's expected/<kommunkod>-<year>.json: the benchmark is a correctness test too.
The same is done on the contract's real variety of data: the shared 2020 sample (../shared/samples/
eskilstuna-2020: mixed encodings, an xlsx, times with offsets, `Z` and naive local times, decimal commas,
rejected rows) scaled with ../shared/tools/replicate.py (each crime and event copied with new ids; its
expected answers multiplied), when ../shared is there.
Then `lofte nightly` on a warehouse of many municipality-years: the first load, a night with nothing new,
and a night with one new file (skipped with a message while `lofte nightly` does not exist).

    .venv/bin/python bench/run.py [--quick] [--scales 1 100 1000] [--shared-scales 100 1000] [--reps 3]
                                  [--no-postgres]

Prints a table and writes bench/out/bench-<UTC time>.json and bench/out/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.expected: the answer check shared with the test suite

BIN = Path(sys.executable).parent
LOFTE = str(BIN / "lofte")
OUT = ROOT / "bench" / "out"
PG_ADMIN = os.environ.get("LOFTE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_DB = "lofte_bench"
YEAR = 2019
POLL_SECONDS = 0.05

# The targets, checked at each data set's largest scale.
TARGET_DUCKDB_WALL = 1.0  # x the reference's wall time, orchestration included
TARGET_DUCKDB_MEMORY = 0.75  # x the reference's peak RSS (the whole process tree)
TARGET_POSTGRES_WALL = 2.0
TARGET_MEMORY_GROWTH = 2.0  # peak RSS at 10x the data, as a multiple
SHARED = ROOT.parent / "shared"
SHARED_SAMPLE = SHARED / "samples" / "eskilstuna-2020"
SHARED_AREAS = SHARED / "spec" / "eskilstuna_areas.geojson"
REPLICATE = SHARED / "tools" / "replicate.py"
TARGET_NIGHTLY_IDLE = 3.0  # seconds beyond a bare `python -c "import prefect"`


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
        # A Prefect home of our own: the temporary server's SQLite is not shared with colleagues' runs.
        PREFECT_HOME=str(OUT / "prefect-home"),
        COLUMNS="400",  # rich wraps the printed summaries otherwise
    )
    return e


# --- measuring a process tree ---------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Measured:
    wall_s: float
    exit_code: int
    peak_tree_mb: float  # sum of RSS over the process tree, polled
    peak_main_mb: float  # the main process alone, polled
    maxrss_mb: float  # kernel ru_maxrss of the main process (and any reaped child: the largest one)
    stdout: str
    stderr: str


TIMEOUT_S = 3600.0  # a run longer than this is stopped (its whole process group) and reported as such


def measure(command: list[str], log: Path, *, cwd: Path = ROOT) -> Measured:
    """Run a command to its end; wall time and peak memory of it and of its subprocesses.

    The command runs in a session of its own, so that a run over TIMEOUT_S is stopped with everything
    it started (the Prefect server subprocess too), and nothing else.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=out, stderr=err, env=env(), cwd=cwd, start_new_session=True
        )
        peaks = {"tree": 0, "main": 0}
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                main = _rss_kb(process.pid)
                tree = main + sum(_rss_kb(p) for p in _descendants(process.pid))
                peaks["main"] = max(peaks["main"], main)
                peaks["tree"] = max(peaks["tree"], tree)
                if time.perf_counter() - started > TIMEOUT_S and not peaks.get("killed"):
                    peaks["killed"] = 1
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                done.wait(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        poller.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    if peaks.get("killed"):
        with err_path.open("a", encoding="utf-8") as note:
            note.write(f"\nbench: stopped after {TIMEOUT_S:.0f} s (--timeout)\n")
    return Measured(
        wall_s=wall,
        exit_code=process.returncode,
        peak_tree_mb=peaks["tree"] / 1024,
        peak_main_mb=peaks["main"] / 1024,
        maxrss_mb=usage.ru_maxrss / 1024,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
    )


# --- data sets and answers -------------------------------------------------------------------------


def make_sample(folder: Path, years: list[int], scale: int, kommuner: int = 1) -> dict[str, Any]:
    """`lofte sample`, reused when the same arguments already wrote the folder."""
    marker = folder / "bench-sample.json"
    wanted = {"years": years, "scale": scale, "kommuner": kommuner}
    if marker.exists():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        if meta.get("args") == wanted:
            return dict(meta)
    shutil.rmtree(folder, ignore_errors=True)
    command = [LOFTE, "sample", str(folder), "--scale", str(scale), "--kommuner", str(kommuner)]
    for year in years:
        command += ["--year", str(year)]
    result = measure(command, OUT / "logs" / f"sample-{folder.name}")
    if result.exit_code != 0:
        raise SystemExit(f"lofte sample failed:\n{result.stderr[-2000:]}")
    text = " ".join(result.stdout.split())
    found = re.search(r"lines=\{'status': (\d+), 'storm': (\d+), 'activities': (\d+)\}", text)
    if found:
        lines = dict(zip(["status", "storm", "activities"], map(int, found.groups()), strict=True))
    else:  # count them: data lines of the CSV files (xlsx rows are few)
        lines = {s: _count_lines(folder / "inbox" / s) for s in ("status", "storm", "activities")}
    size = sum(p.stat().st_size for p in (folder / "inbox").rglob("*") if p.is_file())
    meta = {"args": wanted, "lines": lines, "bytes": size, "generate_s": round(result.wall_s, 1)}
    marker.write_text(json.dumps(meta), encoding="utf-8")
    return meta


def make_shared(folder: Path, scale: int) -> dict[str, Any]:
    """The shared sample replicated `scale` times, laid out as a `lofte sample` folder (config/, inbox/,
    expected/) so that lofte, the reference and the answer check read it alike. Reused when there."""
    marker = folder / "bench-sample.json"
    wanted = {"shared": str(SHARED_SAMPLE.relative_to(SHARED.parent)), "scale": scale}
    if marker.exists():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        if meta.get("args") == wanted:
            return dict(meta)
    shutil.rmtree(folder, ignore_errors=True)
    inbox = folder / "inbox"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(REPLICATE), str(SHARED_SAMPLE), str(inbox), str(scale)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"replicate.py failed:\n{result.stderr[-2000:]}")
    expected = json.loads((inbox / "expected.json").read_text(encoding="utf-8"))
    (inbox / "expected.json").unlink()
    (folder / "expected").mkdir()
    partition = f"{expected['kommunkod']}-{expected['year']}"
    (folder / "expected" / f"{partition}.json").write_text(json.dumps(expected), encoding="utf-8")
    (folder / "config" / "promises").mkdir(parents=True)
    shutil.copy(SHARED_SAMPLE / "promises.yaml", folder / "config" / "promises" / f"{partition}.yaml")
    shutil.copy(SHARED_AREAS, folder / "config" / "areas.geojson")
    lines = {s: _count_lines(inbox / s) for s in ("status", "storm", "activities")}
    size = sum(p.stat().st_size for p in inbox.rglob("*") if p.is_file())
    meta = {"args": wanted, "lines": lines, "bytes": size, "generate_s": round(time.monotonic() - started, 1)}
    marker.write_text(json.dumps(meta), encoding="utf-8")
    return meta


def _count_lines(folder: Path) -> int:
    n = 0
    for path in folder.iterdir():
        if path.suffix == ".csv":
            with path.open("rb") as f:
                n += sum(chunk.count(b"\n") for chunk in iter(partial(f.read, 1 << 24), b"")) - 1
    return n


def expected_answers(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((folder / "expected").glob("*.json"))
    }


def compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Differences between a data set's known answers and a run's (empty: the same)."""
    from tests.expected import comparable_expected

    problems = []
    want = comparable_expected(expected)["measures"]
    for measure_id, tertials in want.items():
        got = actual.get("measures", {}).get(measure_id)
        if got != tertials:
            problems.append(f"{measure_id}: expected {tertials}, got {got}")
    for source, counts in expected.get("source_quality", {}).items():
        got = actual.get("source_quality", {}).get(source, {})
        for name, value in counts.items():
            if got.get(name) != value:
                problems.append(f"source_quality {source}.{name}: expected {value}, got {got.get(name)}")
    return problems


def check_warehouse(url: str, folder: Path, partitions: list[str] | None = None) -> list[str]:
    from tests.expected import actual_answers

    problems = []
    for name, expected in expected_answers(folder).items():
        if partitions is not None and name not in partitions:
            continue
        try:
            actual = actual_answers(url, expected["kommunkod"], int(expected["year"]))
        except Exception as exc:  # a missing partition is an answer too
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        problems += [f"{name}: {p}" for p in compare(expected, actual)]
    return problems


def check_reference(answers_path: Path, folder: Path) -> list[str]:
    if not answers_path.exists():
        return ["the reference wrote no answers"]
    answers = json.loads(answers_path.read_text(encoding="utf-8"))
    problems = []
    for name, expected in expected_answers(folder).items():
        problems += [f"{name}: {p}" for p in compare(expected, answers.get(name, {}))]
    return problems


# --- warehouses ------------------------------------------------------------------------------------


def fresh_postgres() -> str | None:
    """An empty `lofte_bench` database; None when PostgreSQL cannot be reached."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{PG_DB}"'))
        admin.dispose()
    except Exception as exc:
        print(f"PostgreSQL not available ({type(exc).__name__}): skipping it", flush=True)
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"


def drop_postgres() -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
    admin.dispose()


def fresh_duckdb(name: str) -> str:
    path = OUT / "warehouses" / f"{name}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    return f"duckdb:///{path}"


def run_command(folder: Path, url: str) -> list[str]:
    promises = sorted((folder / "config" / "promises").glob("*.yaml"))
    command = [LOFTE, "run", "--areas", str(folder / "config" / "areas.geojson")]
    for p in promises:
        command += ["--promises", str(p)]
    for source in ("status", "storm", "activities"):
        command += [f"--{source}", str(folder / "inbox" / source)]
    return [*command, "--warehouse", url]


# --- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Sample:
    variant: str
    dataset: str
    scale: int
    rep: int
    wall_s: float
    rows_per_s: float
    peak_tree_mb: float
    peak_main_mb: float
    maxrss_mb: float
    exit_code: int
    answers_ok: bool
    problems: list[str] = field(default_factory=list)


def one(variant: str, dataset: str, scale: int, rep: int, folder: Path, rows: int) -> Sample | None:
    log = OUT / "logs" / f"{variant}-{dataset}-x{scale}-rep{rep}"
    if variant == "reference":
        answers = OUT / "answers" / f"reference-{dataset}-x{scale}.json"
        answers.parent.mkdir(parents=True, exist_ok=True)
        answers.unlink(missing_ok=True)
        command = [sys.executable, str(ROOT / "bench" / "reference.py"), str(folder), "--out", str(answers)]
        result = measure(command, log)
        problems = check_reference(answers, folder) if result.exit_code == 0 else []
    elif variant == "prefect-startup":
        code = "from prefect import flow\n@flow\ndef f():\n    return 1\nf()\n"
        result = measure([sys.executable, "-c", code], log)
        problems = []
    elif variant == "import-prefect":  # the floor the idle nightly is held to
        result = measure([sys.executable, "-c", "import prefect"], log)
        problems = []
    else:
        url = fresh_duckdb(f"run-x{scale}") if variant == "lofte-duckdb" else fresh_postgres()
        if url is None:
            return None
        result = measure(run_command(folder, url), log)
        problems = check_warehouse(url, folder) if result.exit_code == 0 else []
        if variant == "lofte-postgres":
            drop_postgres()
    if result.exit_code != 0:
        problems = [f"exit code {result.exit_code}: {result.stderr.strip()[-1500:]}"]
    return Sample(
        variant=variant,
        dataset=dataset,
        scale=scale,
        rep=rep,
        wall_s=round(result.wall_s, 2),
        rows_per_s=round(rows / result.wall_s) if variant not in ("prefect-startup", "import-prefect") else 0,
        peak_tree_mb=round(result.peak_tree_mb),
        peak_main_mb=round(result.peak_main_mb),
        maxrss_mb=round(result.maxrss_mb),
        exit_code=result.exit_code,
        answers_ok=not problems,
        problems=problems[:20],
    )


def median_of(samples: list[Sample]) -> dict[str, Any]:
    def med(name: str) -> float:
        return round(statistics.median(getattr(s, name) for s in samples), 2)

    return {
        "variant": samples[0].variant,
        "dataset": samples[0].dataset,
        "scale": samples[0].scale,
        "reps": len(samples),
        "wall_s": med("wall_s"),
        "wall_min_s": min(s.wall_s for s in samples),
        "wall_max_s": max(s.wall_s for s in samples),
        "rows_per_s": med("rows_per_s"),
        "peak_tree_mb": med("peak_tree_mb"),
        "peak_main_mb": med("peak_main_mb"),
        "maxrss_mb": med("maxrss_mb"),
        "answers_ok": all(s.answers_ok for s in samples),
    }


def nightly_available() -> bool:
    try:
        result = subprocess.run(
            [LOFTE, "nightly", "--help"], capture_output=True, env=env(), timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def bench_nightly(args: argparse.Namespace, use_postgres: bool) -> dict[str, Any]:
    """A warehouse of many municipality-years; nights with nothing new and with one new file."""
    if not nightly_available():
        message = "`lofte nightly` does not exist yet in this tree: nightly benchmark skipped"
        print(message, flush=True)
        return {"skipped": message}
    years = list(range(YEAR - args.nightly_years + 1, YEAR + 1))
    folder = OUT / "data" / f"nightly-k{args.nightly_kommuner}-y{len(years)}-x{args.nightly_scale}"
    meta = make_sample(folder, years, args.nightly_scale, args.nightly_kommuner)
    # The last year's second STORM log arrives late: held back from the first night, then added.
    late = folder / "inbox" / "storm" / f"storm_hobit_{years[-1]}_2_h2.csv"
    held = folder / "held-back" / late.name
    held.parent.mkdir(exist_ok=True)
    if late.exists():
        late.replace(held)
    late_lines = _count_lines(held.parent)
    results: dict[str, Any] = {
        "years": years,
        "kommuner": args.nightly_kommuner,
        "scale": args.nightly_scale,
        "lines": meta["lines"],
        "new_file": late.name,
        "new_file_lines": late_lines,
        "backends": {},
    }
    backends = ["duckdb", *(["postgres"] if use_postgres else [])]
    try:
        for backend in backends:
            url = fresh_duckdb("nightly") if backend == "duckdb" else fresh_postgres()
            if url is None:
                continue
            command = [
                LOFTE,
                "nightly",
                "--config",
                str(folder / "config"),
                "--inbox",
                str(folder / "inbox"),
                "--warehouse",
                url,
            ]
            steps: dict[str, Any] = {}
            if late.exists():
                late.replace(held)
            first = measure(command, OUT / "logs" / f"nightly-{backend}-first")
            steps["first_load"] = _step(first)
            idle = [measure(command, OUT / "logs" / f"nightly-{backend}-idle{r}") for r in range(args.reps)]
            steps["nothing_new"] = _steps(idle)
            # The late file arrives: one measurement (it changes the warehouse), then the answers.
            shutil.copy(held, late)
            added = measure(command, OUT / "logs" / f"nightly-{backend}-new")
            steps["one_new_file"] = _step(added)
            problems = check_warehouse(url, folder) if added.exit_code == 0 else [added.stderr[-1500:]]
            steps["answers_ok"] = not problems
            steps["problems"] = problems[:20]
            late.replace(held)
            results["backends"][backend] = steps
            if backend == "postgres":
                drop_postgres()
    finally:
        if held.exists() and not late.exists():
            held.replace(late)
    return results


def _step(m: Measured) -> dict[str, Any]:
    return {"wall_s": round(m.wall_s, 2), "peak_tree_mb": round(m.peak_tree_mb), "exit_code": m.exit_code}


def _steps(ms: list[Measured]) -> dict[str, Any]:
    return {
        "wall_s": round(statistics.median(m.wall_s for m in ms), 2),
        "all_wall_s": [round(m.wall_s, 2) for m in ms],
        "peak_tree_mb": round(statistics.median(m.peak_tree_mb for m in ms)),
        "exit_codes": [m.exit_code for m in ms],
    }


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    versions = {}
    for package in ("prefect", "pandas", "pyarrow", "duckdb", "psycopg", "shapely", "pyproj", "SQLAlchemy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_average_at_start": os.getloadavg(),
    }


def targets(medians: list[dict[str, Any]], nightly: dict[str, Any]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    for dataset in dict.fromkeys(m["dataset"] for m in medians):
        checks += _targets_on(dataset, [m for m in medians if m["dataset"] == dataset])
    startup = next((m for m in medians if m["variant"] == "prefect-startup"), None)
    floor = next((m for m in medians if m["variant"] == "import-prefect"), None)
    return checks + _nightly_targets(nightly, startup, floor)


def _targets_on(dataset: str, medians: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(m["variant"], m["scale"]): m for m in medians}
    scales = sorted({m["scale"] for m in medians})
    top = scales[-1]
    checks: list[dict[str, Any]] = []
    ref = by.get(("reference", top))
    if ref:
        for variant, factor in (
            ("lofte-duckdb", TARGET_DUCKDB_WALL),
            ("lofte-postgres", TARGET_POSTGRES_WALL),
        ):
            m = by.get((variant, top))
            if m:
                ratio = m["wall_s"] / ref["wall_s"]
                checks.append(
                    {
                        "target": f"{variant} wall <= {factor}x reference on {dataset} x{top}",
                        "value": f"{ratio:.2f}x ({m['wall_s']} s vs {ref['wall_s']} s)",
                        "ok": ratio <= factor,
                    }
                )
        m = by.get(("lofte-duckdb", top))
        if m:
            ratio = m["peak_tree_mb"] / ref["peak_tree_mb"]
            checks.append(
                {
                    "target": (
                        f"lofte-duckdb peak RSS <= {TARGET_DUCKDB_MEMORY}x reference on {dataset} x{top} "
                        "(tree; main process alone)"
                    ),
                    "value": (
                        f"{ratio:.2f}x ({m['peak_tree_mb']:.0f} MB; {m['peak_main_mb']:.0f} MB "
                        f"vs {ref['peak_tree_mb']:.0f} MB)"
                    ),
                    "ok": ratio <= TARGET_DUCKDB_MEMORY,
                }
            )
    for variant in ("lofte-duckdb", "lofte-postgres"):
        big = by.get((variant, top))
        small = next((by[(variant, s)] for s in scales if s * 10 == top and (variant, s) in by), None)
        if big and small:
            growth = big["peak_main_mb"] / small["peak_main_mb"]
            checks.append(
                {
                    "target": (
                        f"{variant}: 10x data on {dataset} (x{top // 10}->x{top}) "
                        f"< {TARGET_MEMORY_GROWTH}x memory"
                    ),
                    "value": (
                        f"{growth:.2f}x ({small['peak_main_mb']:.0f} -> {big['peak_main_mb']:.0f} MB, "
                        "main process)"
                    ),
                    "ok": growth < TARGET_MEMORY_GROWTH,
                }
            )
    return checks


def _nightly_targets(
    nightly: dict[str, Any], startup: dict[str, Any] | None, floor: dict[str, Any] | None
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    for backend, steps in (nightly.get("backends") or {}).items():
        if floor and "nothing_new" in steps:
            extra = steps["nothing_new"]["wall_s"] - floor["wall_s"]
            checks.append(
                {
                    "target": f"nightly ({backend}), nothing new: <= {TARGET_NIGHTLY_IDLE} s + import",
                    "value": f"{steps['nothing_new']['wall_s']} s (`import prefect` {floor['wall_s']} s)",
                    "ok": extra <= TARGET_NIGHTLY_IDLE,
                }
            )
        if "one_new_file" in steps and "first_load" in steps and startup:
            total = sum(nightly["lines"].values())
            per_line_first = (steps["first_load"]["wall_s"] - startup["wall_s"]) / total
            new = steps["one_new_file"]["wall_s"] - startup["wall_s"]
            per_line_new = new / max(nightly["new_file_lines"], 1)
            checks.append(
                {
                    "target": f"nightly ({backend}), one new file: time ~ the file, not the warehouse",
                    "value": (
                        f"{steps['one_new_file']['wall_s']} s for {nightly['new_file_lines']} lines "
                        f"({per_line_new * 1e6:.1f} us/line beyond start-up) vs first load "
                        f"{steps['first_load']['wall_s']} s for {total} lines "
                        f"({per_line_first * 1e6:.1f} us/line)"
                    ),
                    # proportional to the file: within 3x the first load's per-line cost (2 s of slack
                    # for a small file, whose time is mostly fixed costs beyond Prefect's start-up)
                    "ok": new <= max(2.0, 3 * per_line_first * nightly["new_file_lines"]),
                }
            )
    return checks


def table(medians: list[dict[str, Any]]) -> str:
    header = (
        f"{'variant':<16} {'data':<7} {'scale':>6} {'reps':>4} {'wall s':>8} {'min-max':>13} {'rows/s':>10} "
        f"{'tree MB':>8} {'main MB':>8} {'maxrss':>7} answers"
    )
    lines = [header, "-" * len(header)]
    for m in medians:
        lines.append(
            f"{m['variant']:<16} {m['dataset']:<7} {m['scale']:>6} {m['reps']:>4} {m['wall_s']:>8.2f} "
            f"{m['wall_min_s']:>6.1f}-{m['wall_max_s']:<6.1f} {m['rows_per_s']:>10.0f} "
            f"{m['peak_tree_mb']:>8.0f} {m['peak_main_mb']:>8.0f} {m['maxrss_mb']:>7.0f} "
            f"{'ok' if m['answers_ok'] else 'WRONG'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lofte's benchmark against the reference script")
    parser.add_argument("--quick", action="store_true", help="small scales only: a sanity check")
    parser.add_argument("--scales", type=int, nargs="+", help="scales (default 1 100 1000; quick 1 10)")
    parser.add_argument(
        "--shared-scales",
        type=int,
        nargs="*",
        help="scales of the replicated shared 2020 sample (default 100 1000; quick 10; none: skip it)",
    )
    parser.add_argument("--reps", type=int, help="repetitions per scale (default 3; quick 1)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--timeout", type=float, help="seconds per run (default 3600)")
    parser.add_argument("--no-nightly", action="store_true")
    parser.add_argument("--nightly-kommuner", type=int, default=None, help="default 20 (quick 3)")
    parser.add_argument("--nightly-years", type=int, default=None, help="default 3 (quick 2)")
    parser.add_argument("--nightly-scale", type=int, default=None, help="default 10 (quick 1)")
    args = parser.parse_args(argv)
    global TIMEOUT_S
    TIMEOUT_S = args.timeout or TIMEOUT_S
    scales = args.scales or ([1, 10] if args.quick else [1, 100, 1000])
    args.reps = args.reps or (1 if args.quick else 3)
    args.nightly_kommuner = args.nightly_kommuner or (3 if args.quick else 20)
    args.nightly_years = args.nightly_years or (2 if args.quick else 3)
    args.nightly_scale = args.nightly_scale or (1 if args.quick else 10)
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; "
        f"load {info['load_average_at_start']}"
    )

    use_postgres = not args.no_postgres and fresh_postgres() is not None
    variants = [
        "reference",
        "lofte-duckdb",
        *(["lofte-postgres"] if use_postgres else []),
        "prefect-startup",
        "import-prefect",
    ]
    # A first Prefect run in a fresh PREFECT_HOME builds its database: not a fair measurement.
    print("warm-up (Prefect home, imports, page cache)…", flush=True)
    measure(
        [sys.executable, "-c", "from prefect import flow\n@flow\ndef f():\n    return 1\nf()\n"],
        OUT / "logs" / "warm-up",
    )

    shared_scales = [10] if args.quick else [100, 1000]
    if args.shared_scales is not None:
        shared_scales = args.shared_scales
    if shared_scales and not (SHARED_SAMPLE.is_dir() and REPLICATE.is_file()):
        print(f"no shared sample beside the project ({SHARED_SAMPLE.name}): its scenario skipped", flush=True)
        shared_scales = []
    datasets = [("sample", k) for k in scales] + [("shared", k) for k in shared_scales]

    samples: list[Sample] = []
    data: dict[str, Any] = {}
    for dataset, scale in datasets:
        if dataset == "sample":
            folder = OUT / "data" / f"x{scale}"
            meta = make_sample(folder, [YEAR], scale)
        else:
            folder = OUT / "data" / f"shared-x{scale}"
            meta = make_shared(folder, scale)
        data[f"{dataset}-x{scale}"] = meta
        rows = sum(meta["lines"].values())
        print(f"{dataset} x{scale}: {rows} lines, {meta['bytes'] / 1e6:.0f} MB", flush=True)
        for rep in range(args.reps):
            order = variants[rep % len(variants) :] + variants[: rep % len(variants)]  # alternate the order
            for variant in order:
                sample = one(variant, dataset, scale, rep, folder, rows)
                if sample is None:
                    continue
                samples.append(sample)
                flag = "" if sample.answers_ok else "  WRONG ANSWERS: " + "; ".join(sample.problems[:3])
                print(
                    f"  {variant:<16} rep {rep}: {sample.wall_s:7.2f} s, tree {sample.peak_tree_mb:6.0f} MB, "
                    f"main {sample.peak_main_mb:6.0f} MB{flag}",
                    flush=True,
                )
    medians = [
        median_of(chosen)
        for dataset, scale in datasets
        for v in variants
        if (chosen := [s for s in samples if (s.variant, s.dataset, s.scale) == (v, dataset, scale)])
    ]
    nightly: dict[str, Any] = (
        {"skipped": "--no-nightly"} if args.no_nightly else bench_nightly(args, use_postgres)
    )
    checks = targets(medians, nightly)
    info["load_average_at_end"] = os.getloadavg()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "data": data,
        "medians": medians,
        "samples": [asdict(s) for s in samples],
        "nightly": nightly,
        "targets": checks,
    }
    print()
    print(table(medians))
    if nightly.get("backends"):
        for backend, steps in nightly["backends"].items():
            print(
                f"nightly {backend}: first load {steps['first_load']['wall_s']} s, nothing new "
                f"{steps['nothing_new']['wall_s']} s, one new file ({nightly['new_file_lines']} lines) "
                f"{steps['one_new_file']['wall_s']} s, answers {'ok' if steps['answers_ok'] else 'WRONG'}"
            )
    elif "skipped" in nightly:
        print(f"nightly: skipped: {nightly['skipped']}")
    print()
    for check in checks:
        print(f"[{'ok' if check['ok'] else 'MISSED'}] {check['target']}: {check['value']}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=1)
    (OUT / f"bench-{stamp}.json").write_text(text + "\n", encoding="utf-8")
    (OUT / "latest.json").write_text(text + "\n", encoding="utf-8")
    print(f"\nwrote {OUT / f'bench-{stamp}.json'}")
    wrong = [s for s in samples if not s.answers_ok]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
