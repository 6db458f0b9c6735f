"""The inbox and config folders of scheduled runs: which files are there, and their content hashes."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path

from extract.tabular import special_kind
from schemas.contracts import Source
from schemas.errors import ConfigError

SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm", ".xls"}


@dataclass(frozen=True)
class InboxFile:
    source: Source
    path: Path
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files(folder: Path, suffixes: set[str] | None = None) -> tuple[list[Path], list[str]]:
    """The regular files of a folder in file-name order (hidden ones left out), and a line for each
    other entry that is skipped: sub-folders, FIFOs, sockets and devices (never opened: a FIFO would
    wait forever), files of another kind than `suffixes`."""
    files: list[Path] = []
    skipped: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        try:
            mode = path.stat().st_mode
        except OSError as exc:  # a dangling link, or no permission
            skipped.append(f"{path}: cannot be read ({exc.strerror}): skipped")
            continue
        if stat.S_ISDIR(mode):
            skipped.append(f"{path}: a sub-folder: skipped (only the folder's own files are read)")
        elif not stat.S_ISREG(mode):
            skipped.append(f"{path}: {special_kind(mode) or 'not a regular file'}, not a file: skipped")
        elif suffixes is not None and path.suffix.lower() not in suffixes:
            skipped.append(f"{path}: not an export ({', '.join(sorted(suffixes))}): skipped")
        else:
            files.append(path)
    return files, skipped


def list_inbox(inbox: Path, skipped: list[str] | None = None) -> list[InboxFile]:
    """Every export in inbox/status, inbox/storm and inbox/activities, in file-name order per source.
    Entries of those folders that are not read are added to `skipped`, one line each."""
    if not inbox.is_dir():
        raise ConfigError(f"{inbox}: no such inbox folder")
    files = []
    for source in Source:
        folder = inbox / str(source)
        if not folder.is_dir():
            continue
        paths, passed_over = folder_files(folder, SUFFIXES)
        if skipped is not None:
            skipped += passed_over
        for path in paths:
            files.append(InboxFile(source, path, sha256_of(path)))
    return files


@dataclass(frozen=True)
class ConfigFolder:
    promises: list[Path]
    areas: Path
    aliases: Path | None


def config_folder(config: Path) -> ConfigFolder:
    """config/areas.geojson, config/promises/*.yaml (one per kommun and year), config/aliases.yaml."""
    areas = config / "areas.geojson"
    if not areas.is_file():
        raise ConfigError(f"{areas}: no such file (the config folder needs areas.geojson)")
    promises_dir = config / "promises"
    promises = sorted(p for p in promises_dir.glob("*.y*ml") if p.is_file()) if promises_dir.is_dir() else []
    if not promises:
        raise ConfigError(f"{promises_dir}: no promises files (*.yaml)")
    aliases = config / "aliases.yaml"
    return ConfigFolder(promises, areas, aliases if aliases.is_file() else None)
