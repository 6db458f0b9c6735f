"""The inbox and config folders of scheduled runs: which files are there, and their content hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

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


def list_inbox(inbox: Path) -> list[InboxFile]:
    """Every export in inbox/status, inbox/storm and inbox/activities, in file-name order per source."""
    if not inbox.is_dir():
        raise ConfigError(f"{inbox}: no such inbox folder")
    files = []
    for source in Source:
        folder = inbox / str(source)
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            if path.suffix.lower() in SUFFIXES:
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
