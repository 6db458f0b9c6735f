"""`lofte sample`: a realistic synthetic data set with its known answers.

OUTDIR/config/areas.geojson, OUTDIR/config/promises/<kommunkod>-<year>.yaml, OUTDIR/inbox/{status,storm,
activities}/ and OUTDIR/expected/<kommunkod>-<year>.json. The expected answers come from what the generator
decided for each crime, HR and activity, never from reading its own files back.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from sample import activities, geo, status, storm, truth
from sample.expected import expected
from sample.promises import promises_yaml

Progress = Callable[[str, int, int], None]
HN_FIRST, HN_LAST = 1_000_000_000, 9_999_999_999  # Händelsenummer have ten digits
STATUS_STREAM, STORM_STREAM = 1, 2  # separate random streams, so one source's volume never shifts another's


@dataclass
class SampleSummary:
    outdir: Path
    years: list[int]
    kommuner: list[str]
    partitions: list[tuple[str, int]]  # (kommunkod, year) with an expected answer
    files: int = 0
    lines: dict[str, int] = field(default_factory=lambda: {"status": 0, "storm": 0, "activities": 0})
    rejected_total: dict[str, int] = field(default_factory=dict)


def _other_kommun(taken: set[str]) -> str:
    """A kommun that is not generated, for the activity that belongs to someone else (Nyköping if free)."""
    with (geo.REFERENCE / "swedish_admin_areas.csv").open(encoding="utf-8") as f:
        codes = [row["municipality_code"] for row in csv.DictReader(f)]
    return next(c for c in ["0480", *codes] if c not in taken)


def write_sample(
    outdir: Path,
    years: list[int],
    kommuner: int = 1,
    scale: int = 1,
    seed: int = 2019,
    progress: Progress | None = None,
) -> SampleSummary:
    """Write the data set for `years` and `kommuner` municipalities (Eskilstuna first); `scale` multiplies the
    STATUS and STORM volumes. The same arguments give byte-identical files."""
    years = sorted(set(years))
    if not years or kommuner < 1 or scale < 1:
        raise ValueError("need at least one year, one kommun and scale >= 1")
    report = progress or (lambda step, done, total: None)
    change_year = years[(len(years) - 1) // 2]  # synthetic utsatta områden change at the following New Year
    picked = geo.pick_kommuner(kommuner, change_year, seed)
    if HN_FIRST + len(years) * len(picked) * storm.hn_block_size(scale) > HN_LAST:
        raise ValueError("too many kommuner, years and scale for ten-digit Händelsenummer")
    folders = {
        name: outdir / name
        for name in ["config/promises", "inbox/status", "inbox/storm", "inbox/activities", "expected"]
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    summary = SampleSummary(
        outdir, years, [k.kommunkod for k in picked], [(k.kommunkod, y) for y in years for k in picked]
    )

    (outdir / "config" / "areas.geojson").write_text(geo.areas_geojson(picked), encoding="utf-8")
    for year in years:
        for k in picked:
            path = folders["config/promises"] / f"{k.kommunkod}-{year}.yaml"
            path.write_text(promises_yaml(k, year), encoding="utf-8")
    summary.files += 1 + len(summary.partitions)

    found = truth.Truth()
    other = _other_kommun({k.kommunkod for k in picked})
    steps = len(years) * (len(picked) + 1)
    for yi, year in enumerate(years):
        status_lines, storm_lines, activity_rows = [], [], []
        for k in picked:
            report(f"generating {k.name} {year}", yi * (len(picked) + 1) + k.index, steps)
            rng = np.random.default_rng([seed, year, int(k.kommunkod), STATUS_STREAM])
            lines, units = status.generate(k, year, scale, rng, found.rejected["status"])
            status_lines.append(lines)
            found.status.append(truth.counts(units))
            rng = np.random.default_rng([seed, year, int(k.kommunkod), STORM_STREAM])
            first_hn = HN_FIRST + (yi * len(picked) + k.index) * storm.hn_block_size(scale)
            lines, units = storm.generate(k, year, scale, first_hn, rng, found.rejected["storm"])
            storm_lines.append(lines)
            found.storm.append(truth.counts(units))
            activity_rows += activities.rows_for(k, year, other, found)
        report(f"writing {year}", yi * (len(picked) + 1) + len(picked), steps)
        for source, written in [
            ("status", status.write_year(folders["inbox/status"], year, pa.concat_tables(status_lines))),
            ("storm", storm.write_year(folders["inbox/storm"], year, pa.concat_tables(storm_lines))),
            ("activities", activities.write_year(folders["inbox/activities"], year, activity_rows)),
        ]:
            summary.files += len(written)
            summary.lines[source] += sum(written.values())
        del status_lines, storm_lines

    status_counts, storm_counts = found.status_counts(), found.storm_counts()
    for k in picked:
        for year in years:
            answer = expected(k, year, status_counts, storm_counts, found)
            path = folders["expected"] / f"{k.kommunkod}-{year}.json"
            path.write_text(json.dumps(answer, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            summary.files += 1
    summary.rejected_total = {s: r.total for s, r in found.rejected.items()}
    report("done", steps, steps)
    return summary
