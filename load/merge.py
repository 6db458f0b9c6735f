"""The run's single merge transaction: staged rows become facts, and touched partitions are recomputed.

Inside one transaction holding the writers' lock:
1. the promises files given to the run replace their (kommunkod, year) measures, and the areas file
   replaces `dim_area`;
2. per source, the staged rows are de-duplicated by the natural key (the later file, then the later line,
   wins) and replace the facts with the same key, with their area memberships;
3. rejected rows and warnings replace those of the same files (by SHA-256);
4. the partitions touched (new rows, the old versions they replaced, the promises given) get their
   `source_quality` and `followup_aggregate` rows rewritten;
5. the run is marked finished and its staging rows are dropped.
A failure anywhere rolls all of it back: the warehouse is as before the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTableAs

from load.aggregate import FACT_TABLES, Partition, recompute_followup, recompute_quality
from load.config_state import areas_sha, promises_key, promises_sha, record_document
from load.faults import checkpoint
from load.staging import FACT_STAGING, STAGING_TABLES
from load.warehouse import Warehouse, now_utc
from schemas import warehouse as w
from schemas.contracts import CONTRACTS, Source
from schemas.promises import Promises
from transform.areas import Area

# PostgreSQL's memory for the merge's sorts and hashes (per operation, this transaction only).
MERGE_WORK_MEM = os.environ.get("LOFTE_PG_WORK_MEM", "256MB")
# Statistics sample of the run's own transient tables (staging, winners): PostgreSQL's default is 100.
STAGING_STATISTICS_TARGET = "10"


@dataclass
class MergeResult:
    partitions_changed: list[Partition] = field(default_factory=list)  # facts or rejects touched
    followup_partitions: list[Partition] = field(default_factory=list)  # follow-up rewritten
    facts_written: dict[str, int] = field(default_factory=dict)


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
) -> MergeResult:
    """Merge what the run staged, in one transaction.

    `years` limits the merge to facts whose winning version falls in those years (a backfill merges
    year by year, each retryable on its own); `recompute` adds partitions to rewrite even if no fact
    changed; `finish` marks the run and its files done and drops its staging rows.
    """
    updated_at = updated_at or now_utc()
    result = MergeResult()
    with warehouse.writer() as conn:
        checkpoint("merge")
        if not warehouse.is_duckdb:
            # The merge ranks and joins millions of staged rows: sorts and hashes in memory, not on disk.
            conn.execute(sa.select(sa.func.set_config("work_mem", MERGE_WORK_MEM, True)))
            # JIT compiling cost more than it saved on these scans and joins (up to 0.3 s a statement).
            conn.execute(sa.select(sa.func.set_config("jit", "off", True)))
            _analyze_staging(conn)
        for document in promises:
            _replace_promises(conn, document, run_id)
            record_document(conn, "promises", promises_key(document), promises_sha(document), run_id)
        if areas is not None:
            _replace_areas(conn, areas)
            record_document(conn, "areas", "areas", areas_sha(areas), run_id)
        changed: set[Partition] = set()
        for source in Source:
            touched, written = _merge_facts(conn, run_id, source, years)
            changed |= touched
            result.facts_written[str(source)] = written
        changed |= _merge_row_issues(conn, run_id, years, undated=finish)
        wanted = changed | {(p.kommunkod, p.year) for p in promises} | (recompute or set())
        recompute_quality(conn, wanted, run_id, updated_at)
        with_promises = _partitions_with_promises(conn, wanted)
        for partition in sorted(with_promises):
            recompute_followup(conn, partition, run_id, updated_at)
        result.partitions_changed = sorted(changed)
        result.followup_partitions = sorted(with_promises)
        if finish:
            # Holding the run lock, the staging tables hold this run's rows only: emptied at once.
            _finish(conn, run_id, staging_is_mine=warehouse.holds_run_lock)
        checkpoint("commit")  # everything written, the transaction not yet committed
    return result


def _analyze_staging(conn: Connection) -> None:
    """Fresh statistics for what was just COPYed, or PostgreSQL plans the merge's joins blind. The
    joins need row counts, not fine distributions: a tenth of the default sample (0.8 s less at x1000)."""
    preparer = conn.dialect.identifier_preparer
    with _settings(conn, default_statistics_target=STAGING_STATISTICS_TARGET):
        for table in STAGING_TABLES:
            conn.execute(sa.text(f"ANALYZE {preparer.format_table(table)}"))  # our own table names only


def _finish(conn: Connection, run_id: str, *, staging_is_mine: bool = False) -> None:
    lf = w.load_file
    conn.execute(sa.update(lf).where(lf.c.run_id == run_id, lf.c.status == "staged").values(status="loaded"))
    conn.execute(
        sa.update(w.load_run)
        .where(w.load_run.c.run_id == run_id)
        .values(status="finished", finished_at=now_utc())
    )
    if staging_is_mine:
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in STAGING_TABLES)
        conn.execute(sa.text(f"TRUNCATE {names}"))  # our own table names only
        return
    for table in STAGING_TABLES:
        conn.execute(sa.delete(table).where(table.c.run_id == run_id))


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
            }
            for a in areas
        ]
    )
    if len(rows):
        conn.execute(sa.insert(w.dim_area), rows.astype(object).where(rows.notna(), None).to_dict("records"))


def _merge_facts(
    conn: Connection, run_id: str, source: Source, years: set[int] | None
) -> tuple[set[Partition], int]:
    """Staged rows replace the facts with the same key: the later file, then the later line, wins.

    The winners are ranked once into a narrow temporary table (key, partition, file and line); every
    later statement joins it instead of ranking the staged rows again.
    """
    fact, fact_area = FACT_TABLES[source]
    staged = FACT_STAGING[source][0]
    mine = staged.c.run_id == run_id
    if conn.execute(sa.select(sa.func.count()).select_from(staged).where(mine)).scalar_one() == 0:
        return set(), 0
    key = CONTRACTS[source].key
    won = _rank_winners(conn, staged, key, mine, years)

    def is_winner(table: sa.Table) -> sa.Exists:
        return sa.exists(sa.select(1).select_from(won).where(*[won.c[k] == table.c[k] for k in key]))

    touched = {
        (k, y)
        for k, y in conn.execute(
            sa.union(
                sa.select(won.c.kommunkod, won.c.year),
                sa.select(fact.c.kommunkod, fact.c.year).where(is_winner(fact)),
            )
        )
    }
    if fact_area is not None:
        conn.execute(sa.delete(fact_area).where(is_winner(fact_area)))
    conn.execute(sa.delete(fact).where(is_winner(fact)))
    targets = [fact] if fact_area is None else [fact, fact_area]
    with _indexes_rebuilt_after(conn, targets, _is_bulk(conn, won, fact)):
        written = _insert_winners(conn, run_id, source, won)
    won.drop(conn)
    return touched, int(written or 0)


def _rank_winners(
    conn: Connection,
    staged: sa.Table,
    key: tuple[str, ...],
    mine: sa.ColumnElement[bool],
    years: set[int] | None,
) -> sa.Table:
    """The winning version of each key: its key, partition and (file_seq, line), which identify the
    staged row. Only these few columns are sorted, and CREATE TABLE AS lets PostgreSQL sort in parallel
    (an INSERT … SELECT never runs in parallel)."""
    latest_first = [staged.c.file_seq.desc(), staged.c.line.desc()]
    columns = [*(staged.c[k] for k in key), *(staged.c[c] for c in ("kommunkod", "year", "file_seq", "line"))]
    winning: list[sa.ColumnElement[bool]] = []
    if conn.dialect.name == "postgresql":
        # DISTINCT ON keeps each key's first row of one sort; byte order ("C") sorts text fastest and
        # tells the same keys apart as any other deterministic collation.
        keys = [_bytewise(staged.c[k]) for k in key]
        ranked = sa.select(*columns).where(mine).ext(distinct_on(*keys)).order_by(*keys, *latest_first)
        ranked_rows = ranked.subquery("ranked")
    else:
        rank = sa.func.row_number().over(partition_by=[staged.c[k] for k in key], order_by=latest_first)
        ranked_rows = sa.select(*columns, rank.label("rank")).where(mine).subquery("ranked")
        winning.append(ranked_rows.c.rank == 1)
    if years is not None:
        winning.append(ranked_rows.c.year.in_(sorted(years)))
    winners = sa.select(*[ranked_rows.c[c.name] for c in columns]).where(*winning)
    create = CreateTableAs(winners, f"lofte_won_{staged.name}", temporary=True)
    if conn.dialect.name != "postgresql":
        conn.execute(create)
        return create.table
    # PostgreSQL prices handing millions of sorted rows from its parallel workers too high and sorts
    # alone: with the workers the national STATUS ranking took 1.6 s instead of 2.3 s.
    with _settings(conn, parallel_setup_cost="10", parallel_tuple_cost="0.001"):
        conn.execute(create)
    with _settings(conn, default_statistics_target=STAGING_STATISTICS_TARGET):
        conn.execute(sa.text(f"ANALYZE {conn.dialect.identifier_preparer.format_table(create.table)}"))
    return create.table


@contextmanager
def _settings(conn: Connection, **settings: str) -> Iterator[None]:
    """PostgreSQL settings for the statements inside, then back to what they were."""
    before = {name: conn.execute(sa.select(sa.func.current_setting(name))).scalar_one() for name in settings}
    for name, value in settings.items():
        conn.execute(sa.select(sa.func.set_config(name, value, True)))
    yield
    for name, value in before.items():
        conn.execute(sa.select(sa.func.set_config(name, value, True)))


def _bytewise(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return column.collate("C") if isinstance(column.type, sa.Text) else column


def _is_bulk(conn: Connection, won: sa.Table, fact: sa.Table) -> bool:
    """PostgreSQL: more new versions than the table holds (a first or a national load)."""
    if conn.dialect.name != "postgresql":
        return False
    holds = conn.execute(
        sa.text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST(:t AS regclass)"),
        {"t": fact.name},
    ).scalar_one()
    return conn.execute(sa.select(sa.func.count()).select_from(won)).scalar_one() > holds


@contextmanager
def _indexes_rebuilt_after(conn: Connection, tables: list[sa.Table], bulk: bool) -> Iterator[None]:
    """For a bulk load, the keys and indexes are built once after the insert instead of row by row
    (half the time for a national load), and the tables get fresh statistics: planned with the empty
    table's, the follow-up's joins ran as nested loops (3 s instead of 1 s at national scale). The
    tables are locked until the merge commits either way."""
    if not bulk:
        yield
        return
    quote = conn.dialect.identifier_preparer.quote
    for table in tables:  # PostgreSQL names a table's primary key <table>_pkey
        for index in table.indexes:
            conn.execute(sa.schema.DropIndex(index))
        conn.execute(
            sa.text(f"ALTER TABLE {quote(table.name)} DROP CONSTRAINT {quote(table.name + '_pkey')}")
        )
    yield
    for table in tables:
        key = ", ".join(quote(c.name) for c in table.primary_key.columns)
        pkey = quote(table.name + "_pkey")
        conn.execute(sa.text(f"ALTER TABLE {quote(table.name)} ADD CONSTRAINT {pkey} PRIMARY KEY ({key})"))
        for index in table.indexes:
            index.create(conn)
        conn.execute(sa.text(f"ANALYZE {quote(table.name)}"))


def _insert_winners(conn: Connection, run_id: str, source: Source, won: sa.Table) -> int:
    """The winning versions into the facts, and the area memberships staged with those versions.

    Within a run, (file_seq, line) names one staged row: the joins need no other column. A version's
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
    written = conn.execute(sa.insert(fact).from_select([*columns, "file_sha256", "run_id"], winners)).rowcount
    if fact_area is not None and staged_area is not None:
        key = CONTRACTS[source].key
        from_version = [*key, "kommunkod", "year"]
        chosen = (
            sa.select(*[won.c[c] for c in from_version], staged_area.c.layer, staged_area.c.area_id)
            .select_from(staged_area.join(won, _same_row(staged_area, won)))
            .where(staged_area.c.run_id == run_id)
        )
        conn.execute(sa.insert(fact_area).from_select([*from_version, "layer", "area_id"], chosen))
    return int(written or 0)


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
