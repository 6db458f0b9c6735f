"""The personnummer rule: every token of the shape with a valid date is replaced, nothing else is."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transform.personnummer import REDACTED, redact, redact_series

days = st.dates(min_value=date(1890, 1, 1), max_value=date(2030, 12, 31))
separators = st.sampled_from(["-", "+", ""])
tails = st.integers(0, 9999).map(lambda n: f"{n:04d}")
# Text around a token: anything that does not glue a digit to it.
around = st.text(alphabet=st.characters(exclude_categories=["Cs", "Nd"]), max_size=15)


def _token(day: date, century: bool, samordning: bool, sep: str, tail: str) -> str:
    dd = day.day + (60 if samordning else 0)
    birth = (
        f"{day.year:04d}{day.month:02d}{dd:02d}"
        if century
        else f"{day.year % 100:02d}{day.month:02d}{dd:02d}"
    )
    return f"{birth}{sep}{tail}"


@settings(max_examples=400)
@given(days, st.booleans(), st.booleans(), separators, tails, around, around)
def test_every_personnummer_shaped_token_is_replaced(
    day: date, century: bool, samordning: bool, sep: str, tail: str, before: str, after: str
) -> None:
    token = _token(day, century, samordning, sep, tail)
    text, n = redact(f"{before}{token}{after}")
    assert n == 1 and text == f"{before}{REDACTED}{after}"
    assert token not in text


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs", "Nd"]), max_size=30))
def test_text_without_digits_is_unchanged(text: str) -> None:
    assert redact(text) == (text, 0)


@settings(max_examples=300)
@given(st.integers(1900, 2099), st.integers(13, 99), st.integers(1, 28), separators, tails)
def test_an_invalid_month_is_no_personnummer(year: int, month: int, day: int, sep: str, tail: str) -> None:
    token = f"{year}{month:02d}{day:02d}{sep}{tail}"
    assert redact(f"x {token} y") == (f"x {token} y", 0)


@pytest.mark.parametrize(
    "text",
    [
        "19000229-1234",  # 1900 was no leap year
        "19850232-1234",  # no 32 February, nor a samordningsnummer day
        "19850192-1234",  # day 92 - 60 = 32
        "5000-K123456-19",  # an Ärendenummer
        "12345678901234",  # a longer number
        "1985111111111",  # 13 digits
        "6582365,4",  # a coordinate
        "2020-03-01 17:20",
    ],
)
def test_shapes_that_are_not_a_personnummer_stay(text: str) -> None:
    assert redact(text) == (text, 0)


def test_the_issues_examples() -> None:
    assert redact("Erik 198511111111") == (f"Erik {REDACTED}", 1)
    assert redact("Hos Bertil 19850222-2222") == (f"Hos Bertil {REDACTED}", 1)
    assert redact("PNR 19850909-9012 DAVID") == (f"PNR {REDACTED} DAVID", 1)
    assert redact("Hos Helena 860101-0101") == (f"Hos Helena {REDACTED}", 1)
    assert redact("samordning 850171+1234, 20000101-0000") == (f"samordning {REDACTED}, {REDACTED}", 2)


def test_a_leap_day_with_a_two_digit_year_is_valid_in_one_century() -> None:
    assert redact("000229-1234")[1] == 1  # 2000-02-29
    assert (date(2000, 2, 28) + timedelta(days=1)).day == 29


def test_the_series_form_counts_values_and_keeps_missing_ones() -> None:
    values = pd.Series(["Göksten", "Hos 860101-0101 och 19850222-2222", None, ""], dtype="str")
    out, changed = redact_series(values)
    assert changed == 1
    assert out.iloc[1] == f"Hos {REDACTED} och {REDACTED}"
    assert out.iloc[0] == "Göksten" and pd.isna(out.iloc[2]) and out.iloc[3] == ""
    assert redact_series(pd.Series([], dtype="str"))[1] == 0


def test_a_coordinate_with_a_long_fraction_is_no_personnummer() -> None:
    values = pd.Series(["6582365.4101011234", "584688,0101011234", "198511111111", ""], dtype="str")
    out, changed = redact_series(values, coordinates=True)
    assert changed == 1 and list(out[:2]) == list(values[:2]) and out.iloc[2] == REDACTED


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(["", "5005", "2020-03-01", "Eskilstuna", "6580746,8", "860101-0101", "8601010101"])
    )
)
def test_the_series_form_redacts_as_the_scalar_rule_does(values: list[str]) -> None:
    # A whole column is tested at once first: short values, and values joined, must never hide a token.
    out, changed = redact_series(pd.Series(values, dtype="str"))
    expected = [redact(v) for v in values]
    assert list(out) == [text for text, _ in expected]
    assert changed == sum(1 for _, n in expected if n)


def test_values_that_join_into_a_token_are_each_left_alone() -> None:
    values = pd.Series(["86010", "10101", "860101", "-0101", "8601010101"[:9]], dtype="str")
    out, changed = redact_series(values)
    assert changed == 0 and list(out) == list(values)
