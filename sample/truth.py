"""The generator's ground truth: what it decided for each counted unit (crime, HR, activity).

Every source module hands back its units in one shape; they are reduced at once to counts per
(kommunkod, year, tertial, code, area, has_coords), small enough to keep for many years at scale 1000.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sample import clock

NO_COORDINATES = "NO_COORDINATES"
OUTSIDE = "OUTSIDE"
NOT_IN_SCOPE = ""  # a STORM point in no valid area of the scope layer


def units(
    kommunkod: np.ndarray | str, local: np.ndarray, code: np.ndarray, area: np.ndarray, has_coords: np.ndarray
) -> pd.DataFrame:
    """Counted units with their final (last loaded) values; `local` is Swedish local time."""
    n = len(local)
    return pd.DataFrame(
        {
            "kommunkod": np.broadcast_to(np.asarray(kommunkod, dtype=object), n),
            "year": clock.years(local),
            "tertial": clock.tertial(clock.months(local)),
            "code": np.asarray(code, dtype=object),
            "area": np.asarray(area, dtype=object),
            "has_coords": np.asarray(has_coords, dtype=bool),
        }
    )


def counts(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["kommunkod", "year", "tertial", "code", "area", "has_coords"]
    return table.groupby(keys, sort=True).size().rename("n").reset_index()


@dataclass
class Rejected:
    """Rejected lines of one source: per partition when Kommunkod and date can be read; all in the total."""

    by_partition: dict[tuple[str, int], int] = field(default_factory=dict)
    total: int = 0

    def add(self, partition: tuple[str, int] | None) -> None:
        self.total += 1
        if partition is not None:
            self.by_partition[partition] = self.by_partition.get(partition, 0) + 1


@dataclass
class Activity:
    kommunkod: str
    day: str  # YYYY-MM-DD
    aktivitet: str
    plats: str  # as written in the file


@dataclass
class Truth:
    status: list[pd.DataFrame] = field(default_factory=list)
    storm: list[pd.DataFrame] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    rejected: dict[str, Rejected] = field(
        default_factory=lambda: {"status": Rejected(), "storm": Rejected(), "activities": Rejected()}
    )

    def status_counts(self) -> pd.DataFrame:
        return counts_of(self.status)

    def storm_counts(self) -> pd.DataFrame:
        return counts_of(self.storm)


def counts_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    table = pd.concat(parts, ignore_index=True)
    return table.groupby(["kommunkod", "year", "tertial", "code", "area", "has_coords"]).n.sum().reset_index()
