"""The analysts' views: stable names and columns over the warehouse tables, identical on both backends.

Analysts query `v_…` views, not the tables: a table may change (a migration), the views keep their
columns. Each view is a SQLAlchemy `select` turned into DDL by `CreateView` (SQLAlchemy 2.1), so the
same definition compiles for DuckDB and PostgreSQL; only portable SQL is used (CASE, COALESCE, `||`,
CAST … AS TEXT, outer joins, GROUP BY). Grain, columns and example queries: docs/warehouse.md.

Every schema upgrade (load/migrations) calls `drop_all` before its revisions and `create_all` after
them, so a revision may alter a column a view reads (PostgreSQL refuses while the view exists), and a
view changed here reaches existing warehouses with their next upgrade.
"""

from __future__ import annotations

import csv
import hashlib
import io
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateView, DropView

from schemas import warehouse as w
from transform.followup import ALL, NO_COORDINATES, OUTSIDE

views_metadata = sa.MetaData()  # kept apart from the tables' metadata: create_all of tables never sees views

# Names the published follow-up uses for the area ids that are not areas.
AREA_NAMES = {ALL: "Hela kommunen", OUTSIDE: "Utanför områdena", NO_COORDINATES: "Saknar koordinater"}
# The sources as the data-quality lines name them, in the report's order.
SOURCE_LABELS = {"status": "STATUS", "storm": "STORM", "activities": "Aktiviteter"}
# A published cell without data: the measure's source had no loaded rows (missing is not zero).
MISSING = "–"


def _plural(count: sa.ColumnElement, one: str, many: str) -> sa.ColumnElement[str]:
    """Swedish agreement: "1 rad", "2 rader"."""
    return sa.case((count == 1, one), else_=many)


def _text(value: sa.ColumnElement) -> sa.ColumnElement[str]:
    return sa.cast(value, sa.Text)


def _kommun_layers() -> sa.Subquery:
    """Every (kommunkod, layer) of the areas file: a fact of the kommun gets one row per layer."""
    a = w.dim_area
    return sa.select(a.c.kommunkod, a.c.layer).distinct().subquery("kommun_layer")


def _fact_area_view(
    fact: sa.Table,
    fact_area: sa.Table,
    key: tuple[str, ...],
    extra: list[sa.ColumnElement],
    lookup: tuple[sa.Table, sa.ColumnElement[bool]] | None = None,
) -> sa.Select:
    """One row per fact and layer of its kommun: the area holding its point, else OUTSIDE/NO_COORDINATES.

    The same rule as the follow-up's breakdown rows, so a GROUP BY here reproduces followup_aggregate.
    `lookup`: a table outer-joined for `extra` columns (the crime-code list).
    """
    layers = _kommun_layers()
    membership = fact_area.alias("m")
    area = w.dim_area.alias("a")
    not_in_area = sa.case((fact.c.koordinat_status == "ok", OUTSIDE), else_=NO_COORDINATES)
    area_id = sa.func.coalesce(membership.c.area_id, not_in_area)
    area_name = sa.case(
        (membership.c.area_id.is_not(None), sa.func.coalesce(area.c.name, membership.c.area_id)),
        (fact.c.koordinat_status == "ok", AREA_NAMES[OUTSIDE]),
        else_=AREA_NAMES[NO_COORDINATES],
    )
    joined = (
        fact.join(layers, layers.c.kommunkod == fact.c.kommunkod)
        .outerjoin(
            membership,
            sa.and_(*[membership.c[k] == fact.c[k] for k in key], membership.c.layer == layers.c.layer),
        )
        .outerjoin(area, area.c.area_id == membership.c.area_id)
    )
    if lookup is not None:
        joined = joined.outerjoin(*lookup)
    return sa.select(
        *[fact.c[k] for k in key],
        fact.c.kommunkod,
        fact.c.datum,
        fact.c.year,
        fact.c.tertial,
        *extra,
        fact.c.koordinat_status,
        layers.c.layer,
        area_id.label("area_id"),
        area_name.label("area_name"),
    ).select_from(joined)


def _brott() -> sa.Select:
    b, k = w.fact_brott, w.dim_brottskod
    return sa.select(
        b.c.arendenummer,
        b.c.brottsnummer,
        b.c.brottskod,
        k.c.benamning.label("brottskod_benamning"),
        k.c.kodgrupp,
        b.c.registreringstid,
        b.c.datum,
        b.c.year,
        b.c.tertial,
        b.c.kommunkod,
        b.c.kommun,
        b.c.brottsdatum,
        b.c.nord,
        b.c.ost,
        b.c.koordinat_status,
        b.c.file_sha256,
        b.c.line,
        b.c.run_id,
    ).select_from(b.outerjoin(k, k.c.brottskod == b.c.brottskod))


def _brott_area() -> sa.Select:
    b, k = w.fact_brott, w.dim_brottskod
    return _fact_area_view(
        b,
        w.fact_brott_area,
        ("arendenummer", "brottsnummer"),
        [b.c.brottskod, k.c.benamning.label("brottskod_benamning")],
        (k, k.c.brottskod == b.c.brottskod),  # outer: a code missing from Brå's list keeps its rows
    )


def _kommun_names() -> dict[str, str]:
    """Sweden's municipalities by code, from the reference list shipped with lofte."""
    text = resources.files("schemas").joinpath("reference/swedish_admin_areas.csv").read_text("utf-8")
    return {
        r["municipality_code"].zfill(4): r["municipality_name"] for r in csv.DictReader(io.StringIO(text))
    }


def _handelserapport() -> sa.Select:
    h = w.fact_handelserapport
    # STORM-HOBIT carries no municipality name: the promises' name of the kommun, else the reference's.
    ps = w.promise_section
    promised = sa.select(sa.func.max(ps.c.kommun)).where(ps.c.kommunkod == h.c.kommunkod).scalar_subquery()
    kommun = sa.func.coalesce(promised, sa.case(_kommun_names(), value=h.c.kommunkod, else_=None))
    return sa.select(
        h.c.handelsenummer,
        h.c.starttid_utc,
        h.c.starttid_lokal,
        h.c.datum,
        h.c.year,
        h.c.tertial,
        h.c.kommunkod,
        kommun.label("kommun"),
        h.c.hobit,
        h.c.hobit_kand,
        h.c.handelsekod,
        h.c.handelsetyp,
        h.c.plats,
        h.c.enhet,
        h.c.nord,
        h.c.ost,
        h.c.koordinat_status,
        h.c.file_sha256,
        h.c.line,
        h.c.run_id,
    )


def _handelserapport_area() -> sa.Select:
    h = w.fact_handelserapport
    return _fact_area_view(h, w.fact_handelserapport_area, ("handelsenummer",), [h.c.hobit])


def _aktivitet() -> sa.Select:
    a = w.fact_aktivitet
    return sa.select(
        a.c.kommunkod,
        a.c.datum,
        a.c.year,
        a.c.tertial,
        a.c.aktivitet,
        a.c.plats,
        a.c.file_sha256,
        a.c.line,
        a.c.run_id,
    )


def _followup() -> sa.Select:
    fa, pm, ps, area = w.followup_aggregate, w.promise_measure, w.promise_section, w.dim_area
    value, cumulative, target = fa.c.value, fa.c.cumulative_value, fa.c.target
    # "479 (1019)": the tertial's value, year-to-date in brackets from tertial 2 on (as published);
    # "–" where the measure's source had no data (value NULL: missing is not zero).
    cell = sa.case(
        (value.is_(None), MISSING),
        (fa.c.tertial == 1, _text(value)),
        else_=_text(value) + " (" + _text(cumulative) + ")",
    )
    # Whole per cent, rounded half up, in exact arithmetic on both backends (no float division).
    share = sa.case(
        (
            target > 0,
            sa.cast(sa.func.floor((200 * cumulative + target) / sa.cast(2 * target, sa.Numeric)), sa.Integer),
        ),
        else_=None,
    )
    remaining = sa.case((target.is_(None), None), (cumulative >= target, 0), else_=target - cumulative)
    area_name = sa.case(
        *[(fa.c.area_id == code, name) for code, name in AREA_NAMES.items()],
        else_=sa.func.coalesce(area.c.name, fa.c.area_id),
    )
    joined = (
        fa.outerjoin(
            pm,
            sa.and_(
                pm.c.kommunkod == fa.c.kommunkod, pm.c.year == fa.c.year, pm.c.measure_id == fa.c.measure_id
            ),
        )
        .outerjoin(
            ps,
            sa.and_(
                ps.c.kommunkod == fa.c.kommunkod, ps.c.year == fa.c.year, ps.c.section_no == pm.c.section_no
            ),
        )
        .outerjoin(area, area.c.area_id == fa.c.area_id)
    )
    return sa.select(
        fa.c.kommunkod,
        ps.c.kommun,
        fa.c.year,
        fa.c.tertial,
        pm.c.section_no,
        ps.c.title.label("section_title"),
        pm.c.position,
        fa.c.measure_id,
        pm.c.label.label("measure_label"),
        pm.c.source,
        fa.c.area_id,
        area_name.label("area_name"),
        value,
        cumulative,
        cell.label("cell"),
        target,
        share.label("target_share_pct"),
        remaining.label("target_remaining"),
        fa.c.run_id,
        fa.c.updated_at,
    ).select_from(joined)


def _followup_table(v_followup: sa.Table) -> sa.Select:
    """The published table: one row per measure, its three cells and the target line."""
    f = v_followup

    def cell_of(tertial: int) -> sa.ColumnElement[str]:
        cell = sa.func.max(sa.case((f.c.tertial == tertial, f.c.cell), else_=None))
        return sa.func.coalesce(cell, MISSING)

    reached = sa.func.max(f.c.cumulative_value)
    target = sa.func.max(f.c.target)
    share = sa.func.max(sa.case((f.c.tertial == 3, f.c.target_share_pct), else_=None))
    # "1384 av 200 (692 %)"; "204 av 0 (–)" for a target of 0 and "– av 200 (–)" without data; NULL
    # without a target. The report prints this column (read/followup.py), so the two never differ.
    share_text = sa.case((share.is_(None), MISSING), else_=_text(share) + " %")
    target_text = sa.case(
        (target.is_(None), None),
        else_=sa.func.coalesce(_text(reached), MISSING) + " av " + _text(target) + " (" + share_text + ")",
    )
    return (
        sa.select(
            f.c.kommunkod,
            sa.func.max(f.c.kommun).label("kommun"),
            f.c.year,
            f.c.section_no,
            sa.func.max(f.c.section_title).label("section_title"),
            f.c.position,
            f.c.measure_id,
            sa.func.max(f.c.measure_label).label("measure_label"),
            cell_of(1).label("tertial_1"),
            cell_of(2).label("tertial_2"),
            cell_of(3).label("tertial_3"),
            reached.label("year_to_date"),
            target.label("target"),
            share.label("target_share_pct"),
            target_text.label("target_text"),
        )
        .where(f.c.area_id == ALL)
        .group_by(f.c.kommunkod, f.c.year, f.c.section_no, f.c.position, f.c.measure_id)
    )


def _area_year(v_brott_area: sa.Table, v_hr_area: sa.Table) -> sa.Select:
    """Units per (kommun, year, source, code, layer, area): the year and each tertial."""

    def counts(view: sa.Table, source: str, code: sa.ColumnElement, code_name: sa.ColumnElement) -> sa.Select:
        def in_tertial(t: int) -> sa.ColumnElement[int]:
            return sa.func.sum(sa.case((view.c.tertial == t, 1), else_=0))

        return sa.select(
            view.c.kommunkod,
            view.c.year,
            sa.literal(source, sa.Text).label("source"),
            code.label("kod"),
            code_name.label("kod_namn"),
            view.c.layer,
            view.c.area_id,
            view.c.area_name,
            sa.func.count().label("n_year"),
            in_tertial(1).label("n_t1"),
            in_tertial(2).label("n_t2"),
            in_tertial(3).label("n_t3"),
        ).group_by(
            view.c.kommunkod, view.c.year, code, code_name, view.c.layer, view.c.area_id, view.c.area_name
        )

    return (
        sa.union_all(
            counts(v_brott_area, "status", v_brott_area.c.brottskod, v_brott_area.c.brottskod_benamning),
            counts(v_hr_area, "storm", v_hr_area.c.hobit, v_hr_area.c.hobit),
        )
        .subquery("counts")
        .select()
    )


def _load_audit() -> sa.Select:
    lf, run = w.load_file, w.load_run
    # Facts in the warehouse today whose current version this file load wrote (later loads replace).
    current = sa.union_all(
        *[
            sa.select(t.c.run_id, t.c.file_sha256, sa.func.count().label("n")).group_by(
                t.c.run_id, t.c.file_sha256
            )
            for t in (w.fact_brott, w.fact_handelserapport, w.fact_aktivitet)
        ]
    ).subquery("current_facts")
    joined = lf.join(run, run.c.run_id == lf.c.run_id).outerjoin(
        current, sa.and_(current.c.run_id == lf.c.run_id, current.c.file_sha256 == lf.c.sha256)
    )
    return sa.select(
        lf.c.run_id,
        run.c.kind.label("run_kind"),
        run.c.status.label("run_status"),
        run.c.started_at.label("run_started_at"),
        run.c.finished_at.label("run_finished_at"),
        lf.c.file_seq,
        lf.c.source,
        lf.c.file_name,
        lf.c.file_path,
        lf.c.sha256,
        lf.c.size_bytes,
        lf.c.encoding,
        lf.c.status.label("file_status"),
        lf.c.rows_read,
        lf.c.rows_loaded,
        lf.c.rows_rejected,
        lf.c.rows_with_warnings,
        sa.func.coalesce(current.c.n, 0).label("facts_current"),
        lf.c.warnings,
        lf.c.error,
        lf.c.loaded_at,
    ).select_from(joined)


def _source_quality() -> sa.Select:
    """Every source of every partition with promises or data: a source with no loaded rows gets its line
    ("STATUS: inga rader inlästa") and NULL counts, never zeros."""
    sq, ps = w.source_quality, w.promise_section
    partitions = sa.union(
        sa.select(ps.c.kommunkod, ps.c.year), sa.select(sq.c.kommunkod, sq.c.year)
    ).subquery("partition")
    sources = sa.union_all(
        *[sa.select(sa.literal(source, sa.Text).label("source")) for source in SOURCE_LABELS]
    ).subquery("source")
    joined = partitions.join(sources, sa.true()).outerjoin(
        sq,
        sa.and_(
            sq.c.kommunkod == partitions.c.kommunkod,
            sq.c.year == partitions.c.year,
            sq.c.source == sources.c.source,
        ),
    )
    n, with_, missing = (
        _text(sq.c.rows_counted),
        _text(sq.c.rows_with_coordinates),
        _text(sq.c.rows_missing_coordinates),
    )
    label = sa.case(*[(sources.c.source == s, text) for s, text in SOURCE_LABELS.items()])
    rejected = sa.case(
        (sq.c.rows_rejected == 1, "; 1 rad avvisad"),
        (sq.c.rows_rejected > 0, "; " + _text(sq.c.rows_rejected) + " rader avvisade"),
        else_="",
    )
    # The report's data-quality line, e.g. "STORM: 701 händelserapporter - 701 prickar i kartan (0 saknar …)".
    line = sa.case(
        (sq.c.source.is_(None), label + ": inga rader inlästa"),
        (sources.c.source == "status", label + ": " + n + " brott - " + with_ + " med koordinater ("),
        (
            sources.c.source == "storm",
            label
            + ": "
            + n
            + _plural(sq.c.rows_counted, " händelserapport", " händelserapporter")
            + " - "
            + with_
            + _plural(sq.c.rows_with_coordinates, " prick", " prickar")
            + " i kartan (",
        ),
        else_=label + ": " + n + _plural(sq.c.rows_counted, " aktivitet", " aktiviteter") + rejected,
    )
    full = sa.case(
        (
            sa.and_(sq.c.source.is_not(None), sources.c.source != "activities"),
            line + missing + " saknar koordinater)" + rejected,
        ),
        else_=line,
    )
    return sa.select(
        partitions.c.kommunkod,
        partitions.c.year,
        sources.c.source,
        sq.c.rows_counted,
        sq.c.rows_with_coordinates,
        sq.c.rows_missing_coordinates,
        sq.c.rows_rejected,
        full.label("quality_line"),
        sq.c.run_id,
        sq.c.updated_at,
    ).select_from(joined)


MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
# The report's times of day: (first hour, label), each band up to the next band's first hour.
TIMES_OF_DAY = ((0, "natt 00–06"), (6, "förmiddag 06–12"), (12, "eftermiddag 12–18"), (18, "kväll 18–24"))
DEVIATION_MARK = "▲"  # a period above the upper limit of what the previous eight periods lead to expect


def _area_name(area_id: sa.ColumnElement[str], name: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    return sa.case(
        *[(area_id == code, label) for code, label in AREA_NAMES.items()],
        else_=sa.func.coalesce(name, area_id),
    )


def _decimal_comma(value: sa.ColumnElement[float]) -> sa.ColumnElement[str]:
    """One decimal, Swedish decimal comma ("19,6"); rounded the same way on both backends."""
    rounded = sa.func.round(sa.cast(value, sa.Numeric(18, 4)), 1)
    return sa.func.replace(_text(rounded), ".", ",")


def _measure_joins(table: sa.Table) -> tuple[sa.FromClause, sa.Table, sa.Table, sa.Table]:
    pm, ps, area = w.promise_measure, w.promise_section, w.dim_area
    joined = (
        table.outerjoin(
            pm,
            sa.and_(
                pm.c.kommunkod == table.c.kommunkod,
                pm.c.year == table.c.year,
                pm.c.measure_id == table.c.measure_id,
            ),
        )
        .outerjoin(
            ps,
            sa.and_(
                ps.c.kommunkod == table.c.kommunkod,
                ps.c.year == table.c.year,
                ps.c.section_no == pm.c.section_no,
            ),
        )
        .outerjoin(area, area.c.area_id == table.c.area_id)
    )
    return joined, pm, ps, area


def _lagesbild() -> sa.Select:
    """The lägesbild with names and labels: "v. 7" or "februari", "23 (31)" (last year in brackets),
    the rate with a decimal comma, the deviation marked."""
    pa_ = w.period_aggregate
    joined, pm, ps, area = _measure_joins(pa_)
    week_no = sa.cast(sa.extract("week", pa_.c.period_start), sa.Integer)
    month_no = sa.cast(sa.extract("month", pa_.c.period_start), sa.Integer)
    period_no = sa.case((pa_.c.period == "week", week_no), else_=month_no)
    period_name = sa.case(
        (pa_.c.period == "week", "v. " + _text(week_no)),
        *[(month_no == n, name) for n, name in enumerate(MONTHS, start=1)],
    )
    value, last = pa_.c.value, pa_.c.value_last_year
    cell = sa.case(
        (value.is_(None), MISSING),
        (last.is_(None), _text(value)),
        else_=_text(value) + " (" + _text(last) + ")",
    )
    return sa.select(
        pa_.c.kommunkod,
        ps.c.kommun,
        pa_.c.year,
        pa_.c.period,
        sa.case((pa_.c.period == "week", "vecka"), else_="månad").label("period_kind"),
        pa_.c.period_start,
        period_no.label("period_no"),
        period_name.label("period_name"),
        pm.c.section_no,
        pm.c.position,
        pa_.c.measure_id,
        pm.c.label.label("measure_label"),
        pm.c.source,
        pa_.c.area_id,
        _area_name(pa_.c.area_id, area.c.name).label("area_name"),
        value,
        last,
        (value - last).label("change"),
        cell.label("cell"),
        pa_.c.population,
        pa_.c.rate_per_100k,
        sa.case((pa_.c.rate_per_100k.is_(None), MISSING), else_=_decimal_comma(pa_.c.rate_per_100k)).label(
            "rate_text"
        ),
        pa_.c.deviation,
        sa.case((pa_.c.deviation, DEVIATION_MARK), else_="").label("deviation_mark"),
        pa_.c.run_id,
        pa_.c.updated_at,
    ).select_from(joined)


def _tid_pa_dygnet() -> sa.Select:
    """Units of the year per weekday and hour (local time), with Swedish names and times of day."""
    wh = w.weekday_hour_aggregate
    joined, pm, ps, area = _measure_joins(wh)
    weekday_name = sa.case(*[(wh.c.weekday == n, name) for n, name in enumerate(WEEKDAYS, start=1)])
    bands = list(reversed(TIMES_OF_DAY))
    time_of_day = sa.case(*[(wh.c.hour >= first, label) for first, label in bands[:-1]], else_=bands[-1][1])
    return sa.select(
        wh.c.kommunkod,
        ps.c.kommun,
        wh.c.year,
        pm.c.position,
        wh.c.measure_id,
        pm.c.label.label("measure_label"),
        pm.c.source,
        wh.c.area_id,
        _area_name(wh.c.area_id, area.c.name).label("area_name"),
        wh.c.weekday,
        weekday_name.label("weekday_name"),
        wh.c.hour,
        time_of_day.label("time_of_day"),
        wh.c.value,
        wh.c.run_id,
        wh.c.updated_at,
    ).select_from(joined)


def _define() -> list[CreateView]:
    """The views in creation order (a view after those it reads)."""
    made: dict[str, CreateView] = {}

    def view(name: str, query: sa.Select) -> sa.Table:
        made[name] = CreateView(query, name, metadata=views_metadata)
        return made[name].table

    view("v_brott", _brott())
    brott_area = view("v_brott_area", _brott_area())
    view("v_handelserapport", _handelserapport())
    hr_area = view("v_handelserapport_area", _handelserapport_area())
    view("v_aktivitet", _aktivitet())
    followup = view("v_followup", _followup())
    view("v_followup_table", _followup_table(followup))
    view("v_area_year", _area_year(brott_area, hr_area))
    view("v_source_quality", _source_quality())
    view("v_load_audit", _load_audit())
    view("v_lagesbild", _lagesbild())
    view("v_tid_pa_dygnet", _tid_pa_dygnet())
    return list(made.values())


VIEWS = _define()
BY_NAME: dict[str, sa.Table] = {v.table.name: v.table for v in VIEWS}


def view(name: str) -> sa.Table:
    """A view as a Table for queries: `sa.select(view("v_followup"))`."""
    return BY_NAME[name]


def drop_all(conn: Connection) -> None:
    for definition in reversed(VIEWS):
        conn.execute(DropView(definition.table, if_exists=True))


def create_all(conn: Connection) -> None:
    """(Re)create every view: drop them (dependants first), then create in order; the last one carries
    the definitions' fingerprint as its comment."""
    drop_all(conn)
    for definition in VIEWS:
        conn.execute(definition)
    conn.execute(sa.text(f"COMMENT ON VIEW {VIEWS[-1].table.name} IS '{fingerprint(conn)}'"))


def fingerprint(conn: Connection) -> str:
    """A digest of every view's SQL as this lofte writes it for the connection's database."""
    compiled = "\n".join(str(definition.compile(dialect=conn.dialect)) for definition in VIEWS)
    return "lofte views " + hashlib.sha256(compiled.encode("utf-8")).hexdigest()[:16]


def are_current(conn: Connection) -> bool:
    """The warehouse's views are exactly this lofte's: then a run leaves them alone. Recreating them
    takes locks that wait for any analyst's running query on a view (PostgreSQL), and the run with it."""
    name = VIEWS[-1].table.name
    if conn.dialect.name == "postgresql":
        query = "SELECT obj_description(to_regclass(:name), 'pg_class')"
    else:
        query = "SELECT comment FROM duckdb_views() WHERE view_name = :name"
    return bool(conn.execute(sa.text(query), {"name": name}).scalar() == fingerprint(conn))
