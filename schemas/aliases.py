"""The header-aliases file (YAML): per source, a contract column → the other header names an export may
carry for it. A real export that names its columns differently is mapped by this file, not by code.

    status:
      Registreringsdatum: [Reg.datum, Registrerad]
    storm:
      Händelsenummer: HR-nummer

Validation errors point at the bad key with its line and column (`AliasesError`), as for promises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from schemas.contracts import CONTRACTS, Source
from schemas.errors import ConfigError
from schemas.located import Loc, first_error, read_yaml, yaml_position

SOURCES = ", ".join(s.value for s in Source)


class AliasesError(ConfigError):
    """The aliases file is missing, not YAML, or breaks the format."""


def _column_of(source: Source) -> Callable[[str], str]:
    contract = CONTRACTS[source]

    def column(name: str) -> str:
        # Matched as headers are (case-insensitively), kept under the contract's own spelling.
        try:
            return contract.column(name.strip()).name
        except KeyError:
            raise ValueError(f"not a column of the {source} contract") from None

    return column


def _one_or_more(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Headers = Annotated[list[str], BeforeValidator(_one_or_more)]
StatusColumn = Annotated[str, AfterValidator(_column_of(Source.STATUS))]
StormColumn = Annotated[str, AfterValidator(_column_of(Source.STORM))]
ActivitiesColumn = Annotated[str, AfterValidator(_column_of(Source.ACTIVITIES))]


class AliasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: dict[StatusColumn, Headers] = Field(default_factory=dict)
    storm: dict[StormColumn, Headers] = Field(default_factory=dict)
    activities: dict[ActivitiesColumn, Headers] = Field(default_factory=dict)
    # HOBIT codes in local use beyond the contract's, which a promises file may then match.
    hobit_codes: Headers = Field(default_factory=list)

    def by_source(self) -> dict[Source, dict[str, list[str]]]:
        """Source → contract column → other header names; sources without aliases left out."""
        found = {Source.STATUS: self.status, Source.STORM: self.storm, Source.ACTIVITIES: self.activities}
        return {source: dict(columns) for source, columns in found.items() if columns}


def parse_aliases(text: str, name: str) -> dict[Source, dict[str, list[str]]]:
    """Parse and validate an aliases file's text; an empty file means no aliases."""
    found = parse_aliases_file(text, name)
    return found.by_source() if found is not None else {}


def parse_local_hobit_codes(text: str, name: str) -> tuple[str, ...]:
    """The aliases file's `hobit_codes: [CODE, …]`: local HOBIT codes a promises file may match."""
    found = parse_aliases_file(text, name)
    return tuple(c.strip() for c in found.hobit_codes if c.strip()) if found is not None else ()


def parse_aliases_file(text: str, name: str) -> AliasesFile | None:
    """The validated aliases file; None for an empty one."""
    document, root = read_yaml(text, name, AliasesError)
    if document is None:
        return None
    if not isinstance(document, dict):
        raise AliasesError(f"{name}:1:1: aliases are a mapping of source → column → [header names]")

    def explain(kind: str, loc: Loc) -> str | None:
        if kind == "extra_forbidden" and len(loc) == 1:
            return f"not a source ({SOURCES}) or hobit_codes"
        if kind == "dict_type" and len(loc) == 1:
            return "expected column → [header names]"
        if kind in ("list_type", "string_type") and len(loc) >= 2:
            return "expected a header name or a list of header names"
        return None

    def position(loc: Loc) -> tuple[int, int]:
        return yaml_position(root, loc)

    try:
        return AliasesFile.model_validate(document)
    except ValidationError as exc:
        raise AliasesError(first_error(exc, name, position, explain=explain)) from None
