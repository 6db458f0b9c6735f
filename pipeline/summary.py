"""A run's summary as Markdown: the artifact each flow run leaves in the Prefect UI."""

from __future__ import annotations

from pathlib import Path

from load.warehouse import Warehouse
from pipeline.run import RunSummary
from read.followup import read_followup
from report.render import to_markdown

ARTIFACT_PARTITIONS = 10  # follow-up tables shown in a run's artifact; a large backfill lists the rest


def summary_markdown(warehouse: Warehouse, summary: RunSummary) -> str:
    """Files and rejected rows, then the follow-up tables of the partitions the run recomputed."""
    lines = [
        f"# lofte run {summary.run_id}",
        "",
        "| file | source | read | loaded | rejected | status |",
        "|---|---|---:|---:|---:|---|",
    ]
    for a in summary.audits:
        lines.append(
            f"| {Path(a.path).name} | {a.source} | {a.rows_read} | {a.rows_loaded} | {a.rows_rejected} | "
            f"{a.error or a.status} |"
        )
    rejections = [
        f"- {Path(a.path).name}: {reason}: {len(rows)} rows"
        for a in summary.audits
        for reason, rows in sorted(a.rejection_reasons.items())
    ]
    if rejections:
        lines += ["", "## Rejected rows", "", *rejections]
    if summary.not_read:
        lines += ["", "## Not read", "", *[f"- {line}" for line in summary.not_read]]
    if summary.merged and summary.merged.warnings:
        lines += ["", "## Warnings", "", *[f"- {line}" for line in summary.merged.warnings]]
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
