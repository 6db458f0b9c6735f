"""Promises files: the example's four measures for every kommun and year, in the example's format."""

from __future__ import annotations

from sample.geo import Kommun

TARGET_TRAFIKKONTROLLER = 200
TRAFIK_LABEL = (
    "Trafikkontroll i utsatta områden (inklusive synlighet och kommunikativt förhållningssätt: STORM-HOBIT)"
)


def _quoted_list(places: list[str]) -> str:
    return "[" + ", ".join(places) + "]"


def promises_yaml(k: Kommun, year: int) -> str:
    met, not_met = k.trygghet_places
    target = TARGET_TRAFIKKONTROLLER
    return f"""\
# Medborgarlöften for {k.name} kommun {year}: what the follow-up counts.
# One file per municipality and year; see README.md beside this file.
kommunkod: "{k.kommunkod}"
kommun: {k.name}
year: {year}
sections:
  - title: Medborgarlöfte 1
    promise: >-
      Att ingripa mot de lokala kriminella nätverk som finns i {k.name} kommun genom att arbeta för
      nolltolerans mot droger och ha riktade insatser för att upptäcka narkotikaförsäljning och missbruk.
    measures:
      - id: narkotika-ingripanden
        label: Ingripande narkotikabrott (enligt STATUS; brottskod 5010, 5011)
        source: status
        match:
          Brottskod: ["5010", "5011"]
        breakdown_layer: stadsdelar
  - title: Medborgarlöfte 2
    promise: >-
      Att samfällt med kommunen genomföra trygghetsvandringar i två av de prioriterade stadsdelarna
      ({met} och {not_met}) och ett medborgarforum i {k.forum_place} i syfte att ytterligare lyfta
      trygghetsfrågan tillsammans med medborgarna.
    measures:
      - id: trygghetsvandringar
        label: Trygghetsvandring
        source: activities
        match:
          Aktivitet: [Trygghetsvandring]
        expected_places: {_quoted_list([met, not_met])}
      - id: medborgarforum
        label: Medborgarforum
        source: activities
        match:
          Aktivitet: [Medborgarforum]
        expected_places: {_quoted_list([k.forum_place])}
  - title: Medborgarlöfte 3
    promise: >-
      Att genom {target} trafik- och trafikrelaterade kontroller vara tillgängliga och effektiva genom hög
      synlighet i de prioriterade stadsdelarna och genom ett kommunikativt och engagerat förhållningssätt
      komma närmare medborgarna.
    measures:
      - id: trafikkontroller-utsatta-omraden
        label: "{TRAFIK_LABEL}"
        source: storm
        match:
          HOBIT: [TRAFIKKONTROLL]
        scope_layer: utsatta_omraden
        target: {target}
"""
