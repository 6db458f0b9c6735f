"""A run's configuration: promises, areas and header aliases, read and checked against each other before
anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from extract.config import load_aliases, load_areas, load_hobit_codes, load_population, load_promises
from extract.inbox import config_folder
from extract.readers import Aliases
from schemas.errors import ConfigError
from schemas.promises import Promises
from transform.areas import Area, AreaIndex


@dataclass
class RunConfig:
    promises: list[Promises]
    areas: list[Area] | None
    index: AreaIndex
    aliases: Aliases
    population: pd.DataFrame | None = None  # --population: adds or overrides the shipped years


def read_config(
    promises: list[Path], areas: Path | None, aliases: Path | None, population: Path | None = None
) -> RunConfig:
    """Promises (one file per kommun and year), areas and aliases; a layer a measure names must be in
    the areas file, a code it matches in its code list (the aliases file may add local HOBIT codes)."""
    header_aliases = load_aliases(aliases)
    local_hobit = load_hobit_codes(aliases)
    documents = [load_promises(p, local_hobit) for p in promises]
    seen: dict[tuple[str, int], Path] = {}
    for path, document in zip(promises, documents, strict=True):
        partition = (document.kommunkod, document.year)
        if partition in seen:
            raise ConfigError(f"{path}: {document.kommunkod} {document.year} is also in {seen[partition]}")
        seen[partition] = path
    area_list = load_areas(areas) if areas else None
    index = AreaIndex(area_list or [])
    layers = index.layers()
    for path, document in zip(promises, documents, strict=True):
        for measure in document.measures:
            if measure.layer and measure.layer not in layers:
                raise ConfigError(
                    f"{path}: measure {measure.id}: layer {measure.layer!r} is not in the areas file"
                    + (f" {areas}" if areas else " (give --areas)")
                )
    return RunConfig(
        documents,
        area_list,
        index,
        header_aliases,
        load_population(population) if population else None,
    )


def read_config_folder(config_dir: Path) -> RunConfig:
    """config/areas.geojson, config/promises/*.yaml and config/aliases.yaml of a scheduled run."""
    folder = config_folder(config_dir)
    return read_config(folder.promises, folder.areas, folder.aliases)
