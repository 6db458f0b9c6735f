"""What the warehouse already holds: files loaded (by SHA-256) and the config documents applied."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.warehouse import now_utc
from schemas import warehouse as w
from schemas.promises import Promises
from transform.areas import Area


def promises_key(promises: Promises) -> str:
    return f"{promises.kommunkod}-{promises.year}"


def promises_sha(promises: Promises) -> str:
    return hashlib.sha256(promises.model_dump_json().encode()).hexdigest()


def areas_sha(areas: list[Area]) -> str:
    canonical = [
        [a.area_id, a.name, a.layer, a.kommunkod, a.level, str(a.valid_from), str(a.valid_to), a.geometry.wkt]
        # only when given: a file without populations keeps the fingerprint it had before they existed
        + ([a.befolkning] if a.befolkning is not None else [])
        for a in sorted(areas, key=lambda a: a.area_id)
    ]
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def loaded_file_shas(conn: Connection) -> set[str]:
    """Files whose load committed (an interrupted run's files are not among them)."""
    lf = w.load_file
    query = sa.select(lf.c.sha256).where(lf.c.status == "loaded", lf.c.sha256.is_not(None)).distinct()
    return set(conn.execute(query).scalars())


def applied_documents(conn: Connection) -> dict[tuple[str, str], str]:
    cd = w.config_document
    rows = conn.execute(sa.select(cd.c.kind, cd.c.document_key, cd.c.content_sha256))
    return {(kind, key): sha for kind, key, sha in rows}


def record_document(conn: Connection, kind: str, key: str, sha: str, run_id: str) -> None:
    cd = w.config_document
    conn.execute(sa.delete(cd).where(cd.c.kind == kind, cd.c.document_key == key))
    conn.execute(
        sa.insert(cd).values(
            kind=kind, document_key=key, content_sha256=sha, run_id=run_id, applied_at=now_utc()
        )
    )
