"""The promises file (YAML): one municipality's medborgarlöften for one year and what the follow-up counts.

Validation errors point at the bad key with its line and column in the file (`PromisesError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.codes import unknown_code
from schemas.contracts import CONTRACTS, Source
from schemas.errors import ConfigError
from schemas.located import first_error, read_yaml, yaml_position

RESERVED_AREA_IDS = frozenset({"ALL", "OUTSIDE", "NO_COORDINATES"})


class PromisesError(ConfigError):
    """The promises file is missing, not YAML, or breaks the format."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measure(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    label: str = Field(min_length=1)
    source: Source
    match: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    scope_layer: str | None = None
    breakdown_layer: str | None = None
    target: int | None = Field(default=None, ge=0)
    expected_places: tuple[str, ...] = ()

    @field_validator("match", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        # YAML reads `Brottskod: [5010]` as numbers; codes are text in the contract.
        if isinstance(value, dict):
            return {
                k: [str(v) for v in (vs if isinstance(vs, list | tuple) else [vs])] if vs is not None else vs
                for k, vs in value.items()
            }
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Measure:
        contract = CONTRACTS[self.source]
        for column, values in self.match.items():
            if column not in contract.matchable:
                allowed = ", ".join(contract.matchable)
                raise ValueError(f"match column {column!r} is not one of {self.source}'s: {allowed}")
            if not values:
                raise ValueError(f"match column {column!r} lists no values")
        if self.scope_layer and self.breakdown_layer:
            raise ValueError("a measure has scope_layer or breakdown_layer, not both")
        if self.source is Source.ACTIVITIES and (self.scope_layer or self.breakdown_layer):
            raise ValueError("activity measures have ALL rows only: no scope_layer or breakdown_layer")
        if self.expected_places and self.source is not Source.ACTIVITIES:
            raise ValueError("expected_places is for activity measures")
        return self

    @property
    def layer(self) -> str | None:
        return self.scope_layer or self.breakdown_layer


class Section(_Strict):
    title: str = Field(min_length=1)
    promise: str = ""
    measures: tuple[Measure, ...] = Field(min_length=1)


class Promises(_Strict):
    kommunkod: str = Field(pattern=r"^\d{4}$")
    kommun: str = ""
    year: int = Field(ge=2000, le=2100)
    sections: tuple[Section, ...] = Field(min_length=1)

    @field_validator("kommunkod", mode="before")
    @classmethod
    def _pad_kommunkod(cls, value: Any) -> Any:
        # A kommunkod written as a number (`kommunkod: 484`) is padded back to its four digits.
        return f"{value:04d}" if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _unique_measure_ids(self) -> Promises:
        seen: set[str] = set()
        for measure in self.measures:
            if measure.id in seen:
                raise ValueError(f"measure id {measure.id!r} is used twice")
            seen.add(measure.id)
        return self

    @property
    def measures(self) -> tuple[Measure, ...]:
        return tuple(m for s in self.sections for m in s.measures)

    @property
    def layers(self) -> set[str]:
        return {m.layer for m in self.measures if m.layer}


def parse_promises(text: str, name: str, local_hobit: Iterable[str] = ()) -> Promises:
    """Parse and validate a promises file's text; `name` is used in error messages. Crime and HOBIT
    codes must be in their code lists (`local_hobit`: the aliases file's extra HOBIT codes)."""
    document, root = read_yaml(text, name, PromisesError)
    if not isinstance(document, dict):
        raise PromisesError(f"{name}:1:1: a promises file is a mapping with kommunkod, year and sections")
    try:
        promises = Promises.model_validate(document)
    except ValidationError as exc:
        raise PromisesError(first_error(exc, name, lambda loc: yaml_position(root, loc))) from None
    _check_codes(promises, root, name, tuple(local_hobit))
    return promises


def _check_codes(promises: Promises, root: Any, name: str, local_hobit: tuple[str, ...]) -> None:
    """The first match value that is no known code, with its line and column and the closest code."""
    for s, section in enumerate(promises.sections):
        for m, measure in enumerate(section.measures):
            for column, values in measure.match.items():
                for v, value in enumerate(values):
                    problem = unknown_code(column, value, local_hobit)
                    if problem is None:
                        continue
                    line, col = yaml_position(root, ("sections", s, "measures", m, "match", column, v))
                    raise PromisesError(f"{name}:{line}:{col}: measure {measure.id}: {problem}")
