"""Which inbox files a scheduled run loads: new content by SHA-256, never by name or time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from extract.inbox import SUFFIXES, InboxFile, folder_files, list_inbox
from load.config_state import applied_documents, areas_sha, loaded_file_shas, promises_key, promises_sha
from load.retry import retried
from load.warehouse import Warehouse
from load.warehouse_url import WarehouseUrl
from pipeline.config import RunConfig
from pipeline.run import open_warehouse
from schemas.contracts import Source
from schemas.errors import shown
from schemas.promises import Promises
from schemas.settings import Settings


@dataclass
class NightPlan:
    files: list[InboxFile]  # exports not loaded before, in file-name order per source
    promises: list[Promises]  # promises files new or changed since they were last applied
    areas_changed: bool
    skipped: list[str] = field(default_factory=list)  # inbox entries not read: one line each
    not_read: list[str] = field(default_factory=list)  # inbox entries outside the source folders

    @property
    def nothing_to_do(self) -> bool:
        return not self.files and not self.promises and not self.areas_changed


def plan_night(warehouse: Warehouse, config: RunConfig, inbox_dir: Path) -> NightPlan:
    """New exports by SHA-256, and the config documents whose content changed since last applied."""
    skipped: list[str] = []
    inbox = list_inbox(inbox_dir, skipped)

    def applied() -> tuple[set[str], dict[tuple[str, str], str]]:
        with warehouse.begin() as conn:  # only reads: safe to try again
            return loaded_file_shas(conn), applied_documents(conn)

    loaded, documents = retried(applied)
    seen: set[str] = set()
    new = []
    for item in inbox:
        if item.sha256 not in loaded and item.sha256 not in seen:
            new.append(item)
        seen.add(item.sha256)
    changed = [p for p in config.promises if documents.get(("promises", promises_key(p))) != promises_sha(p)]
    areas_changed = config.areas is not None and documents.get(("areas", "areas")) != areas_sha(config.areas)
    return NightPlan(new, changed, areas_changed, skipped, stray_inbox_entries(inbox_dir))


def nothing_new(target: WarehouseUrl, settings: Settings, config: RunConfig, inbox_dir: Path) -> bool:
    """Whether a night would find nothing at all: no new export, no changed promises or areas, and no
    inbox entry it could not read. The warehouse is opened (and upgraded) as by a run, and released."""
    warehouse = open_warehouse(target, settings)
    try:
        plan = plan_night(warehouse, config, inbox_dir)
    finally:
        warehouse.dispose()
    return plan.nothing_to_do and not plan.skipped and not plan.not_read


def inbox_files(inbox_dir: Path) -> list[InboxFile]:
    """Every export of the inbox once (a file copied twice is loaded once), in file-name order."""
    unique: dict[str, InboxFile] = {}
    for item in list_inbox(inbox_dir):
        unique.setdefault(item.sha256, item)
    return list(unique.values())


def skipped_entries(inbox_dir: Path) -> list[str]:
    """The entries of the inbox's source folders that are not read, one line each."""
    skipped: list[str] = []
    for source in Source:
        folder = inbox_dir / str(source)
        if folder.is_dir():
            skipped += folder_files(folder, SUFFIXES)[1]
    return skipped


NOT_READ = "not in " + ", ".join(f"{s}/" for s in Source).replace(", activities/", " or activities/")


def stray_inbox_entries(inbox_dir: Path) -> list[str]:
    """Files in the inbox root and folders other than status/, storm/ and activities/, one line each:
    an export dropped there is never read, and a night that reads nothing must not pass for complete."""
    if not inbox_dir.is_dir():
        return []
    known = {str(source) for source in Source}
    return [
        f"{shown(str(entry))}{'/' if entry.is_dir() else ''}: {NOT_READ}: not read"
        for entry in sorted(inbox_dir.iterdir())
        if not entry.name.startswith(".") and entry.name not in known
    ]
