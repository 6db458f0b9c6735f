"""The promises file: the example parses; errors point at the bad key with line and column."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from pipeline.config import read_config
from schemas.contracts import Source
from schemas.errors import ConfigError
from schemas.promises import PromisesError, parse_promises

AREAS = Path(str(resources.files("schemas").joinpath("reference/eskilstuna_areas.geojson")))


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
    text = _example().replace('"0484"', "0301").replace('["5010", "5011"]', "[0310, 5011]")
    promises = parse_promises(text, "p.yaml")
    assert promises.kommunkod == "0301"
    assert promises.measures[0].match == {"Brottskod": ("0310", "5011")}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "HOBIT: [TRAFIKKONTROLL]",
            "HOBIT: [TRAFIKONTROLL]",
            "p.yaml:46:19: measure trafikkontroller-utsatta-omraden: HOBIT 'TRAFIKONTROLL' is not in the "
            "HOBIT codes of the contract or the aliases file: did you mean TRAFIKKONTROLL?",
        ),
        (
            'Brottskod: ["5010", "5011"]',
            'Brottskod: ["5O10", "5011"]',
            "p.yaml:16:23: measure narkotika-ingripanden: Brottskod '5O10' is not in Brå's crime-code list "
            "(schemas/reference/brottskoder.csv): did you mean 5010?",
        ),
        (
            'Brottskod: ["5010", "5011"]',
            'Brottskod: ["5010", 50111]',
            "p.yaml:16:31: measure narkotika-ingripanden: Brottskod '50111' is not in Brå's crime-code list",
        ),
    ],
)
def test_codes_outside_the_code_lists_are_named_with_the_closest_known_code(
    old: str, new: str, message: str
) -> None:
    text = _example()
    assert old in text
    with pytest.raises(PromisesError) as raised:
        parse_promises(text.replace(old, new), "p.yaml")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_known_codes_in_any_spelling_and_local_hobit_codes_pass() -> None:
    text = _example().replace("HOBIT: [TRAFIKKONTROLL]", "HOBIT: [trafikkontroll, Ordningshållning]")
    parse_promises(text.replace('["5010", "5011"]', "[5010, 301]"), "p.yaml")  # 301 is 0301
    local = _example().replace("HOBIT: [TRAFIKKONTROLL]", "HOBIT: [Grannsamverkan]")
    with pytest.raises(PromisesError, match="HOBIT 'Grannsamverkan' is not in"):
        parse_promises(local, "p.yaml")
    assert parse_promises(local, "p.yaml", ["GRANNSAMVERKAN"]).measures[3].match["HOBIT"] == (
        "Grannsamverkan",
    )


def test_the_aliases_file_adds_local_hobit_codes_to_a_run(tmp_path: Path) -> None:
    promises = tmp_path / "p.yaml"
    promises.write_text(_example().replace("HOBIT: [TRAFIKKONTROLL]", "HOBIT: [GRANNSAMVERKAN]"), "utf-8")
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("hobit_codes: [Grannsamverkan]\nstorm:\n  Händelsenummer: [HR-nummer]\n", "utf-8")
    with pytest.raises(ConfigError, match="HOBIT 'GRANNSAMVERKAN' is not in"):
        read_config([promises], AREAS, None)
    config = read_config([promises], AREAS, aliases)
    assert config.aliases == {Source.STORM: {"Händelsenummer": ["HR-nummer"]}}
    aliases.write_text("hobit_codes: {a: 1}\n", "utf-8")
    with pytest.raises(ConfigError, match="hobit_codes"):
        read_config([promises], AREAS, aliases)
