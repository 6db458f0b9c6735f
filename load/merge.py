"""The run's single merge transaction: staged rows become facts, and touched partitions are recomputed.

Inside one transaction holding the writers' lock:
1. the promises files given to the run replace their (kommunkod, year) measures, and the areas file
   replaces `dim_area`;
2. per source, the staged rows are de-duplicated by the natural key (the later file, then the later line,
   wins) and replace the facts with the same key, with their area memberships;
3. rejected rows and warnings replace those of the same files (by SHA-256);
4. the partitions touched (new rows, the old versions they replaced, the promises given) get their
   `source_quality`, `followup_aggregate` and lägesbild rows rewritten (the lägesbild also for the
   year after each, which compares with it);
5. the run is marked finished and its staging rows are dropped.
A failure anywhere rolls all of it back: the warehouse is as before the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.aggregate import FACT_TABLES, MeasureCounts, Partition, recompute_followup, recompute_quality
from load.backend import Backend
from load.config_state import areas_sha, promises_key, promises_sha, record_document
from load.faults import checkpoint
from load.lagesbild import lagesbild_partitions, recompute_lagesbild, refresh_populations
from load.staging import FACT_STAGING
from load.warehouse import Warehouse, now_utc
from schemas import warehouse as w
from schemas.contracts import CONTRACTS, Source
from schemas.promises import Promises
from transform.areas import Area


@dataclass
class MergeResult:
    partitions_changed: list[Partition] = field(default_factory=list)  # facts or rejects touched
    followup_partitions: list[Partition] = field(default_factory=list)  # follow-up rewritten
    facts_written: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # e.g. a measure that matched no row


def merge_run(
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    areas: list[Area] | None,
    *,
    years: set[int] | None = None,
    recompute: set[Partition] | None = None,
    finish: bool = True,
    updated_at: datetime | None = None,
    population: pd.DataFrame | None = None,
) -> MergeResult:
    """Merge what the run staged, in one transaction.

    `years` limits the merge to facts whose winning version falls in those years (a backfill merges
    year by year, each retryable on its own); `recompute` adds partitions to rewrite even if no fact
    changed; `finish` marks the run and its files done and drops its staging rows; `population`
    (kommunkod, year, folkmangd, source) adds or overrides years of `dim_folkmangd`.
    """
    updated_at = updated_at or now_utc()
    with warehouse.writer() as conn:
        checkpoint("merge")
        result = _merge(
            conn, warehouse, run_id, promises, areas, years=years, recompute=recompute, finish=finish,
            updated_at=updated_at, population=population,
        )  # fmt: skip
        checkpoint("commit")  # everything written, the transaction not yet committed
    if finish:
        _staging_merged(warehouse, run_id)
    return result


def _staging_merged(warehouse: Warehouse, run_id: str) -> None:
    with warehouse.begin() as conn:
        warehouse.backend.staging_merged(conn, run_id)


def merge_backfill(
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    years: list[int],
    areas: list[Area] | None,
    updated_at: datetime,
) -> MergeResult:
    """A backfill's years one after another, then what has no year (undated rejects, warnings, the
    areas), all in ONE transaction: killed at any point, nothing of it is published, and the next run
    finds it interrupted. Each year is its own pass, so the ranking holds one year's versions at a time."""
    result = MergeResult()
    with warehouse.writer() as conn:
        checkpoint("merge")
        for year in years:
            mine = [p for p in promises if p.year == year]
            partitions = {(p.kommunkod, year) for p in mine}
            done = _merge(
                conn, warehouse, run_id, mine, None, years={year}, recompute=partitions, finish=False,
                updated_at=updated_at,
            )  # fmt: skip
            result.partitions_changed += done.partitions_changed
            result.warnings += done.warnings
            result.followup_partitions += done.followup_partitions
            for source, n in done.facts_written.items():
                result.facts_written[source] = result.facts_written.get(source, 0) + n
            checkpoint("year")  # a year merged, the next not begun, nothing committed
        _merge(
            conn,
            warehouse,
            run_id,
            [],
            areas,
            years=set(),
            recompute=None,
            finish=True,
            updated_at=updated_at,
        )
        checkpoint("commit")
    _staging_merged(warehouse, run_id)
    return result


def _merge(
    conn: Connection,
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    areas: list[Area] | None,
    *,
    years: set[int] | None,
    recompute: set[Partition] | None,
    finish: bool,
    updated_at: datetime,
    population: pd.DataFrame | None = None,
) -> MergeResult:
    result = MergeResult()
    backend = warehouse.backend
    backend.tune_merge(conn)
    backend.publish_staging(conn)
    for document in promises:
        _replace_promises(conn, document, run_id)
        record_document(conn, "promises", promises_key(document), promises_sha(document), run_id)
    if areas is not None:
        _replace_areas(conn, areas)
        record_document(conn, "areas", "areas", areas_sha(areas), run_id)
    changed: set[Partition] = set()
    for source in Source:
        touched, written = _merge_facts(conn, backend, run_id, source, years)
        changed |= touched
        result.facts_written[str(source)] = written
    changed |= _merge_row_issues(conn, run_id, years, undated=finish)
    wanted = changed | {(p.kommunkod, p.year) for p in promises} | (recompute or set())
    recompute_quality(conn, wanted, run_id, updated_at)
    with_promises = _partitions_with_promises(conn, wanted)
    counts_of = MeasureCounts(conn)  # the follow-up and the lägesbild count from the same scans
    for partition in sorted(with_promises):
        followup = recompute_followup(conn, partition, run_id, updated_at, counts_of)
        result.warnings += [
            f"{partition[0]} {partition[1]}: measure {measure_id} matched no row of its source"
            for measure_id in followup.matched_nothing
        ]
    for partition in sorted(lagesbild_partitions(conn, wanted)):
        recompute_lagesbild(conn, backend, partition, run_id, updated_at, counts_of)
    refreshed = {a.kommunkod for a in areas or []}
    if population is not None and len(population):
        _replace_population(conn, population)
        refreshed |= set(population["kommunkod"])
    refresh_populations(conn, sorted(refreshed))
    result.partitions_changed = sorted(changed)
    result.followup_partitions = sorted(with_promises)
    if finish:
        # Holding the run lock, the staging tables hold this run's rows only: emptied at once.
        _finish(conn, backend, run_id, alone=warehouse.holds_run_lock)
    return result


def _finish(conn: Connection, backend: Backend, run_id: str, *, alone: bool) -> None:
    lf = w.load_file
    conn.execute(sa.update(lf).where(lf.c.run_id == run_id, lf.c.status == "staged").values(status="loaded"))
    conn.execute(
        sa.update(w.load_run)
        .where(w.load_run.c.run_id == run_id)
        .values(status="finished", finished_at=now_utc())
    )
    backend.empty_staging(conn, run_id, alone=alone)


def _replace_promises(conn: Connection, promises: Promises, run_id: str) -> None:
    partition = {"kommunkod": promises.kommunkod, "year": promises.year}
    for table in (w.promise_section, w.promise_measure):
        conn.execute(
            sa.delete(table).where(table.c.kommunkod == promises.kommunkod, table.c.year == promises.year)
        )
    conn.execute(
        sa.insert(w.promise_section),
        [
            {
                **partition,
                "section_no": no,
                "kommun": promises.kommun,
                "title": s.title,
                "promise": s.promise,
                "run_id": run_id,
            }
            for no, s in enumerate(promises.sections, start=1)
        ],
    )
    measures = [
        {
            **partition,
            "measure_id": m.id,
            "section_no": no,
            "position": position,
            "label": m.label,
            "source": str(m.source),
            "match_json": json.dumps({k: list(v) for k, v in m.match.items()}, ensure_ascii=False),
            "scope_layer": m.scope_layer,
            "breakdown_layer": m.breakdown_layer,
            "target": m.target,
            "expected_places_json": json.dumps(list(m.expected_places), ensure_ascii=False),
            "run_id": run_id,
        }
        for position, (no, m) in enumerate(
            ((no, m) for no, s in enumerate(promises.sections, start=1) for m in s.measures), start=1
        )
    ]
    conn.execute(sa.insert(w.promise_measure), measures)


def _replace_population(conn: Connection, population: pd.DataFrame) -> None:
    fm = w.dim_folkmangd
    keys = list(zip(population["kommunkod"], population["year"], strict=True))
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        conn.execute(
            sa.delete(fm).where(sa.or_(*[(fm.c.kommunkod == k) & (fm.c.year == int(y)) for k, y in chunk]))
        )
    conn.execute(sa.insert(fm), population.astype(object).to_dict("records"))


def _replace_areas(conn: Connection, areas: list[Area]) -> None:
    """The areas file replaces the areas of the kommuner it covers; other kommuners' areas stay."""
    kommuner = sorted({a.kommunkod for a in areas})
    conn.execute(sa.delete(w.dim_area).where(w.dim_area.c.kommunkod.in_(kommuner)))
    rows = pd.DataFrame(
        [
            {
                "area_id": a.area_id,
                "name": a.name,
                "layer": a.layer,
                "kommunkod": a.kommunkod,
                "level": a.level,
                "valid_from": a.valid_from,
                "valid_to": a.valid_to,
                "geometry_wkt": a.geometry.wkt,
                "befolkning": a.befolkning,
            }
            for a in areas
        ]
    )
    if len(rows):
        conn.execute(sa.insert(w.dim_area), rows.astype(object).where(rows.notna(), None).to_dict("records"))


def _merge_facts(
    conn: Connection, backend: Backend, run_id: str, source: Source, years: set[int] | None
) -> tuple[set[Partition], int]:
    """Staged rows replace the facts with the same key: the later file, then the later line, wins.

    The winners are ranked once into a narrow temporary table (key, partition, file and line) where the
    staged rows are; every later statement joins it instead of ranking the staged rows again. Only when
    the facts hold rows do the winners' keys go where the facts are, to find the versions they replace.
    """
    fact, fact_area = FACT_TABLES[source]
    staged = FACT_STAGING[source][0]
    mine = staged.c.run_id == run_id
    reader = backend.staged_rows(conn)
    if reader.execute(sa.select(sa.func.count()).select_from(staged).where(mine)).scalar_one() == 0:
        return set(), 0
    key = CONTRACTS[source].key
    won = backend.rank_winners(conn, staged, key, mine, years)
    winners = reader.execute(sa.select(sa.func.count()).select_from(won)).scalar_one()
    touched = {(k, y) for k, y in reader.execute(sa.select(won.c.kommunkod, won.c.year).distinct())}
    published = None
    if conn.execute(sa.select(sa.exists(sa.select(1).select_from(fact)))).scalar_one():
        published = backend.publish_winners(conn, won, key)
        touched |= _delete_replaced(conn, fact, fact_area, published, key)
    targets = [fact] if fact_area is None else [fact, fact_area]
    with backend.keys_rebuilt_after(conn, targets, backend.is_bulk(conn, winners, fact)):
        written = _insert_winners(conn, backend, run_id, source, won)
    backend.drop_winners(conn, won, published)
    return touched, written


def _delete_replaced(
    conn: Connection, fact: sa.Table, fact_area: sa.Table | None, won: sa.Table, key: tuple[str, ...]
) -> set[Partition]:
    """Delete the versions the winners replace (and their area memberships); their partitions."""

    def is_winner(table: sa.Table) -> sa.Exists:
        return sa.exists(sa.select(1).select_from(won).where(*[won.c[k] == table.c[k] for k in key]))

    replaced = sa.select(fact.c.kommunkod, fact.c.year).where(is_winner(fact)).distinct()
    touched = {(k, y) for k, y in conn.execute(replaced)}
    if fact_area is not None:
        conn.execute(sa.delete(fact_area).where(is_winner(fact_area)))
    conn.execute(sa.delete(fact).where(is_winner(fact)))
    return touched


def _insert_winners(conn: Connection, backend: Backend, run_id: str, source: Source, won: sa.Table) -> int:
    """The winning versions into the facts, and the area memberships staged with those versions.

    The staged rows are read where they are (`Backend.staged_rows`); within a run, (file_seq, line)
    names one staged row: the joins need no other column. A version's
    file SHA-256 comes from its file's audit row (a CASE over the run's few files: a join to
    `load_file` misled PostgreSQL's estimates into hashing the wide staged rows), a membership's key
    and partition from its version."""
    fact, fact_area = FACT_TABLES[source]
    staged, staged_area = FACT_STAGING[source]
    lf = w.load_file
    sha256 = dict(conn.execute(sa.select(lf.c.file_seq, lf.c.sha256).where(lf.c.run_id == run_id)).all())
    file_sha256 = sa.case(sha256, value=staged.c.file_seq) if sha256 else sa.null()
    columns = [c.name for c in fact.columns if c.name not in ("run_id", "file_sha256")]
    winners = (
        sa.select(*[staged.c[c] for c in columns], file_sha256, sa.literal(run_id).label("run_id"))
        .select_from(staged.join(won, _same_row(staged, won)))
        .where(staged.c.run_id == run_id)
    )
    written = backend.insert_selected(conn, fact, [*columns, "file_sha256", "run_id"], winners)
    if fact_area is not None and staged_area is not None:
        key = CONTRACTS[source].key
        from_version = [*key, "kommunkod", "year"]
        chosen = (
            sa.select(*[won.c[c] for c in from_version], staged_area.c.layer, staged_area.c.area_id)
            .select_from(staged_area.join(won, _same_row(staged_area, won)))
            .where(staged_area.c.run_id == run_id)
        )
        backend.insert_selected(conn, fact_area, [*from_version, "layer", "area_id"], chosen)
    return written


def _same_row(staged: sa.Table, won: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(staged.c.file_seq == won.c.file_seq, staged.c.line == won.c.line)


def _merge_row_issues(
    conn: Connection, run_id: str, years: set[int] | None, *, undated: bool
) -> set[Partition]:
    """Rejected rows and warnings of the run's files replace those of earlier loads of the same files.

    With `years`, only rejected rows of those years move; `undated` adds the rejected rows without a
    readable date and all row warnings (they belong to no year).
    """
    touched: set[Partition] = set()
    files = sa.select(w.load_file.c.sha256).where(
        w.load_file.c.run_id == run_id, w.load_file.c.status == "staged"
    )
    for final, staged, key in (
        (w.rejected_row, w.stg_rejected_row, ("file_sha256", "line")),
        (w.row_warning, w.stg_row_warning, ("file_sha256", "line", "column_name")),
    ):
        final_scope: list[sa.ColumnElement[bool]] = [final.c.file_sha256.in_(files)]
        staged_scope: list[sa.ColumnElement[bool]] = [staged.c.run_id == run_id]
        if final is w.rejected_row and years is not None:
            in_years_final: sa.ColumnElement[bool] = final.c.year.in_(sorted(years))
            in_years_staged: sa.ColumnElement[bool] = staged.c.year.in_(sorted(years))
            if undated:
                in_years_final = in_years_final | final.c.year.is_(None)
                in_years_staged = in_years_staged | staged.c.year.is_(None)
            final_scope.append(in_years_final)
            staged_scope.append(in_years_staged)
        elif final is w.row_warning and not undated:
            continue
        if final is w.rejected_row:
            touched |= {
                (k, y)
                for k, y in conn.execute(
                    sa.union(
                        sa.select(staged.c.kommunkod, staged.c.year).where(*staged_scope),
                        sa.select(final.c.kommunkod, final.c.year).where(*final_scope),
                    )
                )
                if k is not None and y is not None
            }
        conn.execute(sa.delete(final).where(*final_scope))
        rank = sa.func.row_number().over(
            partition_by=[staged.c[k] for k in key], order_by=staged.c.file_seq.desc()
        )
        ranked = sa.select(staged, rank.label("rank")).where(*staged_scope).subquery("ranked")
        columns = [c.name for c in final.columns if c.name != "run_id"]
        conn.execute(
            sa.insert(final).from_select(
                [*columns, "run_id"],
                sa.select(*[ranked.c[c] for c in columns], sa.literal(run_id)).where(ranked.c.rank == 1),
            )
        )
    return touched


def _partitions_with_promises(conn: Connection, partitions: set[Partition]) -> set[Partition]:
    if not partitions:
        return set()
    pm = w.promise_measure
    kommuner = sorted({k for k, _ in partitions})
    stored = conn.execute(
        sa.select(pm.c.kommunkod, pm.c.year).where(pm.c.kommunkod.in_(kommuner)).distinct()
    ).all()
    return {(k, y) for k, y in stored} & partitions
