"""The promises file: the example parses; errors point at the bad key with line and column."""

from __future__ import annotations

from importlib import resources

import pytest

from schemas.promises import PromisesError, parse_promises


def _example() -> str:
    return resources.files("schemas").joinpath("reference/eskilstuna_2019_promises.yaml").read_text("utf-8")


def test_the_contract_example_parses() -> None:
    promises = parse_promises(_example(), "p.yaml")
    assert (promises.kommunkod, promises.year) == ("0484", 2019)
    assert [m.id for m in promises.measures] == [
        "narkotika-ingripanden",
        "trygghetsvandringar",
        "medborgarforum",
        "trafikkontroller-utsatta-omraden",
    ]
    assert promises.measures[3].target == 200
    assert promises.measures[0].match == {"Brottskod": ("5010", "5011")}


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("source: storm", "source: stormen", r"p\.yaml:\d+:\d+: sections\[2\]\.measures\[0\]\.source"),
        ("HOBIT: [TRAFIKKONTROLL]", "Brottskod: [5010]", r"match column 'Brottskod' is not one of storm's"),
        ("target: 200", "target: -1", r"sections\[2\]\.measures\[0\]\.target"),
        ('kommunkod: "0484"', 'kommunkod: "484x"', r"p\.yaml:3:\d+: kommunkod"),
        ("scope_layer: utsatta_omraden", "scope_layer: a\n        breakdown_layer: b", "not both"),
        ("- id: medborgarforum", "- id: trygghetsvandringar", "used twice"),
        ("year: 2019", "year: [2019", r"p\.yaml:\d+:\d+: not valid YAML"),
    ],
)
def test_errors_name_the_key(old: str, new: str, where: str) -> None:
    text = _example()
    assert old in text
    with pytest.raises(PromisesError, match=where):
        parse_promises(text.replace(old, new), "p.yaml")


def test_unquoted_kommunkod_keeps_its_leading_zero() -> None:
    assert parse_promises(_example().replace('"0484"', "0484"), "p.yaml").kommunkod == "0484"


def test_unquoted_codes_with_a_leading_zero_are_not_read_as_octal() -> None:
    """YAML 1.1 reads `0301` as the octal number 193; the contract's codes keep their leading zeros."""
    text = _example().replace('"0484"', "0301").replace('["5010", "5011"]', "[0101, 5011]")
    promises = parse_promises(text, "p.yaml")
    assert promises.kommunkod == "0301"
    assert promises.measures[0].match == {"Brottskod": ("0101", "5011")}
