"""A run's summary as Markdown: the artifact each flow run leaves in the Prefect UI."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from load.warehouse import Warehouse
from pipeline.run import RunSummary
from read.followup import read_followup
from report.render import to_markdown
from schemas import warehouse as w
from schemas.errors import shown

ARTIFACT_PARTITIONS = 10  # follow-up tables shown in a run's artifact; a large backfill lists the rest


def _cell(text: str) -> str:
    """A name or message inside one Markdown line (and table cell): no line breaks, no markup."""
    escaped = shown(text).replace("\\", "\\\\")
    for ch in "|*_`[]<>#":
        escaped = escaped.replace(ch, "\\" + ch)
    return escaped


def summary_markdown(warehouse: Warehouse, summary: RunSummary) -> str:
    """Files and rejected rows, then the follow-up tables of the partitions the run recomputed."""
    lines = [
        f"# lofte run {summary.run_id}",
        "",
        "| file | source | read | loaded | rejected | status |",
        "|---|---|---:|---:|---:|---|",
    ]
    # The files' states as the warehouse records them now: 'loaded' once the merge committed (the
    # in-memory audits still say 'staged').
    lf = w.load_file
    with warehouse.begin() as conn:
        recorded = dict(
            conn.execute(sa.select(lf.c.file_seq, lf.c.status).where(lf.c.run_id == summary.run_id)).all()
        )
    for a in summary.audits:
        name, state = _cell(Path(a.path).name), _cell(a.error or recorded.get(a.file_seq, a.status))
        lines.append(
            f"| {name} | {a.source} | {a.rows_read} | {a.rows_loaded} | {a.rows_rejected} | {state} |"
        )
    rejections = [
        f"- {_cell(Path(a.path).name)}: {_cell(reason)}: {rejected.rows} rows"
        for a in summary.audits
        for reason, rejected in sorted(a.rejection_reasons.items())
    ]
    if rejections:
        lines += ["", "## Rejected rows", "", *rejections]
    warnings = [f"- {_cell(Path(a.path).name)}: {_cell(w)}" for a in summary.audits for w in a.warnings]
    if summary.merged and summary.merged.warnings:
        warnings += [f"- {_cell(line)}" for line in summary.merged.warnings]
    if warnings:
        lines += ["", "## Warnings", "", *warnings]
    not_read = [*summary.skipped, *summary.not_read]
    if not_read:
        lines += ["", "## Not read", "", *(f"- {_cell(s)}" for s in not_read)]
    partitions = summary.merged.followup_partitions if summary.merged else []
    with warehouse.begin() as conn:
        for kommunkod, year in partitions[:ARTIFACT_PARTITIONS]:
            followup = read_followup(conn, kommunkod, year)
            if followup is not None:
                lines += ["", to_markdown(followup).replace("# ", "## ", 1)]
    if len(partitions) > ARTIFACT_PARTITIONS:
        rest = ", ".join(f"{k} {y}" for k, y in partitions[ARTIFACT_PARTITIONS:])
        lines += ["", f"Also recomputed: {rest}"]
    return "\n".join(lines)
