"""The code lists a promises file's `match` values are checked against before any export is read: Brå's
crime codes (reference/brottskoder.csv) for `Brottskod`, the contract's HOBIT codes (plus the local codes
an aliases file lists under `hobit_codes`) for `HOBIT`. A code found in neither would match no row and
publish "0 av 200" without a word, so it is an error naming the closest known code."""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from schemas.contracts import KNOWN_HOBIT_CODES
from transform.text import fold_hobit, pad_code4

BRA_LIST = "Brå's crime-code list (schemas/reference/brottskoder.csv)"


@lru_cache(maxsize=1)
def crime_codes() -> frozenset[str]:
    """Every code of Brå's list, discontinued ones included (old crimes keep their codes)."""
    text = resources.files("schemas").joinpath("reference/brottskoder.csv").read_text(encoding="utf-8")
    return frozenset(row["brottskod"] for row in csv.DictReader(text.splitlines(), delimiter=";"))


def hobit_codes(local: Iterable[str] = ()) -> frozenset[str]:
    """The contract's HOBIT codes and the local ones, folded as the facts store them."""
    return KNOWN_HOBIT_CODES | {fold_hobit(c) for c in local}


def unknown_code(column: str, value: str, local_hobit: Iterable[str] = ()) -> str | None:
    """Why `value` of match column `column` is no known code ("… did you mean 5010?"), or None when it is
    known or the column has no code list."""
    if column == "Brottskod":
        code = pad_code4(value)
        known, what = crime_codes(), BRA_LIST
        if code is not None and code in known:
            return None
        asked = code or value.strip()
    elif column == "HOBIT":
        known, what = hobit_codes(local_hobit), "the HOBIT codes of the contract or the aliases file"
        asked = fold_hobit(value)
        if asked in known:
            return None
    else:
        return None
    close = closest(asked, known)
    hint = f": did you mean {close}?" if close else ""
    return f"{column} {value!r} is not in {what}{hint}"


# Letters typed for the digits they look like: `5O10` is 5010, not 5910.
_LOOKALIKES = str.maketrans("OoIlSB", "011158")


def closest(asked: str, known: Iterable[str]) -> str | None:
    """The known code most like `asked` (difflib's ratio, ties to the lowest code), None if none is close."""
    codes = sorted(known)
    if (fixed := asked.translate(_LOOKALIKES)) in codes:
        return fixed
    scored = [(difflib.SequenceMatcher(None, asked, code).ratio(), code) for code in codes]
    best = max(scored, key=lambda sc: (sc[0], [-ord(c) for c in sc[1]]), default=None)
    return best[1] if best is not None and best[0] >= 0.6 else None
