"""The input contracts: which columns each export carries, which are required, which are personal data.

These mirror the data contract (docs/contract.md, "Input files") and nothing else reads column names:
the readers resolve headers against these definitions, the transforms type the values by `kind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    STATUS = "status"
    STORM = "storm"
    ACTIVITIES = "activities"


class Kind(StrEnum):
    """How a column's text is typed."""

    TEXT = "text"  # trimmed text
    CODE4 = "code4"  # a 4-digit code that keeps leading zeros (Excel may drop them)
    INTEGER = "integer"
    LOCAL_DATETIME = "local_datetime"  # naive Swedish local time, or an Excel date cell
    INSTANT = "instant"  # ISO 8601 with offset, `Z`, or naive Swedish local time
    DATE = "date"  # YYYY-MM-DD
    COORDINATE = "coordinate"  # metres in SWEREF 99 TM, decimal point or comma
    PERSONAL = "personal"  # personal data: read past, never stored


@dataclass(frozen=True)
class Column:
    name: str  # the contract's header name
    field: str  # the name of the typed field (and warehouse column)
    kind: Kind
    required: bool = False
    # Free text may run over several lines inside quotes; in any other column a line break inside a CSV
    # value means a quote left open (docs/input-files.md).
    line_breaks: bool = False


@dataclass(frozen=True)
class InputContract:
    source: Source
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the counted unit: fields that identify it
    # Columns a promises `match` may name, by contract name → typed field holding its normalised value.
    matchable: dict[str, str]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name.casefold() == name.casefold():
                return column
        raise KeyError(name)

    @property
    def stored(self) -> tuple[Column, ...]:
        """Columns that may be kept past the reader: everything but personal data."""
        return tuple(c for c in self.columns if c.kind is not Kind.PERSONAL)


STATUS = InputContract(
    source=Source.STATUS,
    columns=(
        Column("Ärendenummer", "arendenummer", Kind.TEXT, required=True),
        Column("Brottsnummer", "brottsnummer", Kind.INTEGER, required=True),
        Column("Brottskod", "brottskod", Kind.CODE4, required=True),
        Column("Registreringsdatum", "registreringstid", Kind.LOCAL_DATETIME, required=True),
        Column("Kommunkod", "kommunkod", Kind.CODE4, required=True),
        Column("Brottsdatum", "brottsdatum", Kind.DATE),
        Column("Kommun", "kommun", Kind.TEXT),
        Column("Nord", "nord", Kind.COORDINATE),
        Column("Öst", "ost", Kind.COORDINATE),
        Column("Brottsplats", "brottsplats", Kind.PERSONAL, line_breaks=True),
        Column("Misstänkt personnummer", "personnummer", Kind.PERSONAL),
    ),
    key=("arendenummer", "brottsnummer"),
    matchable={"Brottskod": "brottskod", "Kommunkod": "kommunkod"},
)

STORM = InputContract(
    source=Source.STORM,
    columns=(
        Column("Händelsenummer", "handelsenummer", Kind.TEXT, required=True),
        Column("Starttid", "starttid", Kind.INSTANT, required=True),
        Column("HOBIT", "hobit", Kind.TEXT, required=True),
        Column("Kommunkod", "kommunkod", Kind.CODE4, required=True),
        Column("Händelsekod", "handelsekod", Kind.TEXT),
        Column("Händelsetyp", "handelsetyp", Kind.TEXT),
        Column("Plats", "plats", Kind.TEXT),
        Column("Nord", "nord", Kind.COORDINATE),
        Column("Öst", "ost", Kind.COORDINATE),
        Column("Enhet", "enhet", Kind.TEXT),
        Column("Sammanfattning", "sammanfattning", Kind.PERSONAL, line_breaks=True),
    ),
    key=("handelsenummer",),
    matchable={
        "HOBIT": "hobit",
        "Kommunkod": "kommunkod",
        "Händelsekod": "handelsekod",
        "Händelsetyp": "handelsetyp_key",
        "Enhet": "enhet_key",
    },
)

ACTIVITIES = InputContract(
    source=Source.ACTIVITIES,
    columns=(
        Column("Datum", "datum", Kind.DATE, required=True),
        Column("Aktivitet", "aktivitet", Kind.TEXT, required=True),
        Column("Plats", "plats", Kind.TEXT, required=True),
        Column("Kommunkod", "kommunkod", Kind.CODE4, required=True),
    ),
    key=("datum", "aktivitet_key", "plats_key", "kommunkod"),
    matchable={"Aktivitet": "aktivitet_key", "Plats": "plats_key", "Kommunkod": "kommunkod"},
)

CONTRACTS: dict[Source, InputContract] = {c.source: c for c in (STATUS, STORM, ACTIVITIES)}

# The police systems' own identifiers: keys, not personal data, and never redacted (a 10-digit
# Händelsenummer can look like a personnummer). Every other text is searched for personnummer.
IDENTIFIER_FIELDS = frozenset({"arendenummer", "brottsnummer", "handelsenummer"})

# HOBIT's follow-up activity codes, folded (upper case, Å/Ä → A, Ö → O). Others are kept as unknown codes.
KNOWN_HOBIT_CODES = frozenset(
    {
        "TRAFIKKONTROLL",
        "FOTPATRULL",
        "ORDNINGSHALLNING",
        "PLATSUNDERSOKNING",
        "NARKOTIKAINSATS",
        "MEDBORGARDIALOG",
        "OVRIGT",
    }
)

# How the contract spells the codes (folded forms are for matching only): what reports show.
HOBIT_DISPLAY = {
    "ORDNINGSHALLNING": "ORDNINGSHÅLLNING",
    "PLATSUNDERSOKNING": "PLATSUNDERSÖKNING",
    "OVRIGT": "ÖVRIGT",
}


def hobit_display(code: str) -> str:
    """A stored (folded) HOBIT code as the contract writes it; an unknown code as it was stored."""
    return HOBIT_DISPLAY.get(code, code)


# Sweden's box in SWEREF 99 TM: a pair outside it is invalid (the row is kept without coordinates).
NORTHING_RANGE = (6_130_000.0, 7_675_000.0)
EASTING_RANGE = (260_000.0, 925_000.0)
# RT90 2.5 gon V eastings: recognisable by their range, never converted silently.
RT90_EASTING_RANGE = (1_200_000.0, 1_900_000.0)
