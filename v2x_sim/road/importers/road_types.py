"""Defaults by road type for sources that do not say: class, capacity, speed, lanes.

OpenStreetMap's ``highway`` values name the types (SUMO's ``highway.primary`` types and
GMNS ``facility_type`` values made by osm2gmns use the same words). A source's own
values always win; these fill the gaps.

| type | class | veh/h/lane | km/h | lanes | source of the capacity |
|---|---|---|---|---|---|
| motorway | expressway | 2,200 | 100 | 2 | HCM freeway; field discharge ~2,200 (DOMAIN.md) |
| trunk | expressway | 2,000 | 80 | 2 | HCM multilane highway 1,900–2,200: assumed low end |
| primary | arterial | 1,800 | 60 | 2 | HCM base saturation 1,900; urban 1,800 (DOMAIN.md) |
| secondary | arterial | 1,800 | 50 | 1 | same |
| tertiary | arterial | 1,600 | 40 | 1 | assumed: narrower lanes, side friction (HCM factors) |
| unclassified | arterial | 1,400 | 40 | 1 | assumed |
| residential | arterial | 1,200 | 30 | 1 | assumed: local street, parking and crossings |
| living_street | arterial | 900 | 10 | 1 | assumed |
| service | arterial | 900 | 20 | 1 | assumed |
| motorway_link | ramp | 1,800 | 60 | 1 | project ramp default (HCM ramp 1,800–2,200) |
| other ``*_link`` | ramp | 1,800 | 40 | 1 | assumed |
| anything else | arterial | 1,800 | 50 | 1 | the project's arterial default |

Lanes are per direction of travel.
Speeds and lane counts are assumptions (typical urban limits and layouts, what a map
shows without tags); capacities above 2,000 and the arterial 1,800 follow DOMAIN.md.

Whatever the table says, a capacity is capped at what a triangular fundamental diagram
allows at the link's free speed (``k_jam v w / (v + w)`` with the default jam density
and a congested wave speed of 18 km/h, DOMAIN.md): slow links (a 10 km/h living street)
cannot discharge like fast ones, and the network would be refused otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from v2x_sim.road.network import RoadClass

KMH = 1.0 / 3.6
JAM_DENSITY_VPM = 0.140
"""Default jam density per lane (veh/m), as in ``links.csv``."""
WAVE_SPEED_MPS = 5.0
"""Congested wave speed, 18 km/h (DOMAIN.md)."""


@dataclass(frozen=True, slots=True)
class RoadType:
    """Defaults for one road type."""

    road_class: RoadClass
    capacity_vph_per_lane: float
    speed_kmh: float
    lanes: int


_ARTERIAL = RoadType(RoadClass.ARTERIAL, 1800.0, 50.0, 1)
TYPES: dict[str, RoadType] = {
    "motorway": RoadType(RoadClass.EXPRESSWAY, 2200.0, 100.0, 2),
    "trunk": RoadType(RoadClass.EXPRESSWAY, 2000.0, 80.0, 2),
    "primary": RoadType(RoadClass.ARTERIAL, 1800.0, 60.0, 2),
    "secondary": RoadType(RoadClass.ARTERIAL, 1800.0, 50.0, 1),
    "tertiary": RoadType(RoadClass.ARTERIAL, 1600.0, 40.0, 1),
    "unclassified": RoadType(RoadClass.ARTERIAL, 1400.0, 40.0, 1),
    "residential": RoadType(RoadClass.ARTERIAL, 1200.0, 30.0, 1),
    "living_street": RoadType(RoadClass.ARTERIAL, 900.0, 10.0, 1),
    "service": RoadType(RoadClass.ARTERIAL, 900.0, 20.0, 1),
    "motorway_link": RoadType(RoadClass.RAMP, 1800.0, 60.0, 1),
}
_LINK = RoadType(RoadClass.RAMP, 1800.0, 40.0, 1)
_WORDS = {"freeway": "motorway", "expressway": "motorway", "highway": "motorway",
          "arterial": "primary", "major": "primary", "collector": "secondary",
          "minor": "tertiary", "local": "residential", "ramp": "motorway_link"}


def road_type(name: str) -> RoadType:
    """Defaults for a type name: ``primary``, ``highway.primary``, ``motorway_link``.

    SUMO prefixes (``highway.``) and combined types (``highway.primary|railway.tram``)
    are reduced to the first road part; a few planners' words (freeway, arterial,
    collector, local, ramp) map to their OpenStreetMap equivalents.
    """
    key = name.split("|")[0].strip().lower()
    key = key.removeprefix("highway.")
    key = _WORDS.get(key, key)
    if key in TYPES:
        return TYPES[key]
    if key.endswith("_link"):
        return _LINK
    return _ARTERIAL


def capped_capacity_vph(capacity_vph_per_lane: float, free_speed_mps: float) -> float:
    """The capacity, at most what a triangular diagram allows at this free speed."""
    v, w = free_speed_mps, WAVE_SPEED_MPS
    ceiling = 3600.0 * JAM_DENSITY_VPM * v * w / (v + w)
    return min(capacity_vph_per_lane, ceiling)
