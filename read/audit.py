"""Read side of the load audit: per run, per file, rows read = loaded + rejected, and why rows were rejected.

A file's audit row says 'loaded' only once its run's merge committed. A run that died (killed, or the
machine stopped) leaves its files 'reading' or 'staged' under a run that is not 'finished': those are
reported as interrupted, never as loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas import warehouse as w
from schemas.errors import shown


@dataclass
class Rejections:
    reason: str
    lines: list[int]


@dataclass
class FileAuditView:
    file_seq: int
    file_name: str
    source: str
    status: str  # loaded | unreadable | interrupted | failed
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    error: str | None
    warnings: list[str]
    rejections: list[Rejections] = field(default_factory=list)


@dataclass
class RunAudit:
    run_id: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    message: str | None
    files: list[FileAuditView]


def latest_run_id(conn: Connection) -> str | None:
    lr = w.load_run
    return conn.execute(
        sa.select(lr.c.run_id).order_by(lr.c.started_at.desc(), lr.c.run_id.desc()).limit(1)
    ).scalar_one_or_none()


def read_run_audit(conn: Connection, run_id: str) -> RunAudit | None:
    lr, lf, rr = w.load_run, w.load_file, w.rejected_row
    run = conn.execute(sa.select(lr).where(lr.c.run_id == run_id)).mappings().one_or_none()
    if run is None:
        return None
    files = []
    for row in conn.execute(sa.select(lf).where(lf.c.run_id == run_id).order_by(lf.c.file_seq)).mappings():
        status = row["status"]
        if status in ("reading", "staged"):
            # Staged but never merged: the run died or failed before its load committed.
            status = "failed" if run["status"] == "failed" else "interrupted"
        view = FileAuditView(
            file_seq=row["file_seq"],
            file_name=row["file_name"],
            source=row["source"],
            status=status,
            rows_read=row["rows_read"],
            rows_loaded=row["rows_loaded"],
            rows_rejected=row["rows_rejected"],
            error=row["error"],
            warnings=(row["warnings"] or "").splitlines(),
        )
        if status == "loaded" and row["sha256"] and row["rows_rejected"]:
            # Rejected rows are kept per file content (SHA-256): a later load of the same file keeps them.
            grouped: dict[str, list[int]] = {}
            query = (
                sa.select(rr.c.reason, rr.c.line).where(rr.c.file_sha256 == row["sha256"]).order_by(rr.c.line)
            )
            for reason, line in conn.execute(query):
                grouped.setdefault(reason, []).append(int(line))
            view.rejections = [
                Rejections(r, lines) for r, lines in sorted(grouped.items(), key=lambda i: (-len(i[1]), i[0]))
            ]
        files.append(view)
    return RunAudit(
        run_id=run["run_id"],
        kind=run["kind"],
        status=run["status"],
        started_at=run["started_at"],
        finished_at=run["finished_at"],
        message=run["message"],
        files=files,
    )


def audit_lines(audit: RunAudit, max_lines: int = 20) -> list[str]:
    """The audit as text, one file per block: counts, then rejection reasons grouped and counted."""
    out = [
        f"run {audit.run_id} ({audit.kind}): {audit.status}" + (f": {audit.message}" if audit.message else "")
    ]
    for f in audit.files:
        counts = f"{f.rows_read} rows read = {f.rows_loaded} loaded + {f.rows_rejected} rejected"
        out.append(f"{shown(f.file_name)} [{f.source}, {f.status}]: " + shown(f.error or counts))
        for group in f.rejections:
            listed = ", ".join(str(n) for n in group.lines[:max_lines])
            more = f", … ({len(group.lines) - max_lines} more)" if len(group.lines) > max_lines else ""
            noun = "row" if len(group.lines) == 1 else "rows"
            word = "line" if len(group.lines) == 1 else "lines"
            out.append(f"  {shown(group.reason)}: {len(group.lines)} {noun}, {word} {listed}{more}")
        out += [f"  warning: {shown(warning)}" for warning in f.warnings]
    return out
