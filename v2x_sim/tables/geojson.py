"""GeoJSON of a run for GIS tools (QGIS): roads with their worst bin, devices, edge regions.

Three FeatureCollections, one geometry type each (a GIS layer holds one type):

* `network_geojson`: a LineString per link (its shape when the network has one) with
  the link's attributes and its results in the run's *worst bin*: the link time bin
  with the lowest network mean speed ratio (mean over links with traffic);
* `devices_geojson`: a Point per roadside device;
* `edge_regions_geojson`: a Polygon per edge node around the RSUs it serves.

Coordinates: an imported network knows its coordinate reference (``import.json``
beside its files: a CRS and the offset subtracted from it). With pyproj installed the
coordinates are then longitude/latitude (RFC 7946); without it they are the CRS's own
metres with the offset added back and the CRS named in a ``crs`` member (which QGIS and
GDAL read). Generated networks have no place on Earth: their coordinates are the
simulator's metres, with no ``crs`` member (set any metric CRS in the GIS).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim.tables.formats import Table

Transform = Callable[[NDArray[np.float64], NDArray[np.float64]],
                     tuple[NDArray[np.float64], NDArray[np.float64]]]
REGION_PAD_M = 100.0
"""How far an edge region reaches beyond its outermost RSUs."""


@dataclass(frozen=True)
class GeoReference:
    """Where the simulator's metres lie: ``x + offset_m[0]`` in ``crs`` (``EPSG:32635``)."""

    crs: str
    offset_m: tuple[float, float] = (0.0, 0.0)


def _transform(georef: GeoReference | None) -> tuple[Transform, dict[str, Any]]:
    """The coordinate transform and the collection's extra members (``crs``)."""
    if georef is None:
        return (lambda x, y: (x, y)), {}
    dx, dy = georef.offset_m
    if importlib.util.find_spec("pyproj") is not None:
        from pyproj import Transformer

        to_lonlat = Transformer.from_crs(georef.crs, "EPSG:4326", always_xy=True)

        def lonlat(x: NDArray[np.float64], y: NDArray[np.float64]
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            lon, lat = to_lonlat.transform(x + dx, y + dy)
            return np.asarray(lon), np.asarray(lat)

        return lonlat, {}
    code = georef.crs.split(":")[-1]
    member = {"crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{code}"}}}
    return (lambda x, y: (x + dx, y + dy)), member


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python ones, NaN and inf as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _collection(features: list[dict[str, Any]], extra: dict[str, Any],
                name: str) -> dict[str, Any]:
    return {"type": "FeatureCollection", "name": name, **extra, "features": features}


def _coordinates(x: NDArray[np.float64], y: NDArray[np.float64],
                 transform: Transform) -> list[list[float]]:
    tx, ty = transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(tx, ty, strict=True)]


def parse_shape(text: str) -> NDArray[np.float64] | None:
    """A polyline ``"x,y x,y ..."`` as an (n, 2) array; None when empty or malformed."""
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        return None
    if len(points) < 2 or any(len(p) != 2 for p in points):
        return None
    return np.array(points, dtype=float)


def worst_bin(links: Table) -> tuple[float, float] | None:
    """``(t_start_s, t_end_s)`` of the bin with the lowest network mean speed ratio.

    The network mean of a bin is over links with traffic in it (a finite ratio); None
    when no bin has any.
    """
    starts = np.asarray(links["t_start_s"], dtype=float)
    ratio = np.asarray(links["speed_ratio"], dtype=float)
    known = np.isfinite(ratio)
    if not known.any():
        return None
    uniq, inverse = np.unique(starts[known], return_inverse=True)
    means = (np.bincount(inverse, weights=ratio[known])
             / np.bincount(inverse))
    start = float(uniq[int(np.argmin(means))])
    end = float(np.asarray(links["t_end_s"], dtype=float)[starts == start].max())
    return start, end


RESULT_COLUMNS = ("vehicles", "mean_speed_mps", "speed_ratio", "flow_vph", "entered", "exited")
LINK_COLUMNS = ("link", "from", "to", "length_m", "lanes", "free_speed_mps", "road_class",
                "capacity_vph_per_lane")


def network_geojson(network: Table, links: Table | None = None,
                    georef: GeoReference | None = None) -> dict[str, Any]:
    """Every link as a LineString with its attributes and its results in the worst bin.

    Args:
        network: ``network.csv`` (ids, end coordinates, ``shape``, attributes).
        links: ``links.csv``; its rows of the worst bin (`worst_bin`) become the
            properties ``vehicles, mean_speed_mps, speed_ratio, flow_vph, entered,
            exited`` with ``t_start_s``/``t_end_s`` of that bin (null without traffic).
        georef: where the coordinates lie (see the module's docstring).
    """
    transform, extra = _transform(georef)
    window = worst_bin(links) if links is not None and links["link"].size else None
    rows: dict[str, int] = {}
    if window is not None and links is not None:
        in_bin = np.flatnonzero(np.asarray(links["t_start_s"], dtype=float) == window[0])
        rows = {str(links["link"][i]): int(i) for i in in_bin}
    shapes = network.get("shape")
    features = []
    for i in range(network["link"].size):
        line = parse_shape(str(shapes[i])) if shapes is not None else None
        if line is None:
            line = np.array([[network["x0_m"][i], network["y0_m"][i]],
                             [network["x1_m"][i], network["y1_m"][i]]], dtype=float)
        props = {c: _plain(network[c][i]) for c in LINK_COLUMNS if c in network}
        props["link"] = str(network["link"][i])
        if window is not None and links is not None:
            row = rows.get(props["link"])
            props["t_start_s"], props["t_end_s"] = window
            for column in RESULT_COLUMNS:
                props[column] = (_plain(links[column][row])
                                 if row is not None and column in links else None)
        features.append({"type": "Feature", "id": props["link"],
                         "geometry": {"type": "LineString",
                                      "coordinates": _coordinates(line[:, 0], line[:, 1],
                                                                  transform)},
                         "properties": props})
    return _collection(features, extra, "network")


def devices_geojson(devices: Table, georef: GeoReference | None = None) -> dict[str, Any]:
    """Every roadside device as a Point: ``device, kind, rsu, edge_node`` (rsu null: none)."""
    transform, extra = _transform(georef)
    coords = _coordinates(devices["x_m"], devices["y_m"], transform)
    features = []
    for i, point in enumerate(coords):
        rsu = int(devices["rsu"][i]) if "rsu" in devices else -1
        props = {"device": _plain(devices["device"][i]), "kind": str(devices["kind"][i]),
                 "rsu": rsu if rsu >= 0 else None,
                 "edge_node": (str(devices["edge_node"][i]) or None
                               if "edge_node" in devices else None)}
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": point},
                         "properties": props})
    return _collection(features, extra, "devices")


def hull(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Convex hull of 2-D points (Andrew's monotone chain), counter-clockwise."""
    pts = sorted(set(map(tuple, np.asarray(points, dtype=float).tolist())))
    if len(pts) < 3:
        return np.array(pts, dtype=float)

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1], dtype=float)


def region_outline(points: NDArray[np.float64], pad_m: float = REGION_PAD_M
                   ) -> NDArray[np.float64]:
    """The convex hull of ``points`` grown by ``pad_m`` (an octagon around each point).

    Works for one or two points too (then it is an octagon or a rounded bar).
    """
    angles = np.arange(8) * (math.pi / 4) + math.pi / 8
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1) * pad_m / math.cos(math.pi / 8)
    grown = (np.asarray(points, dtype=float)[:, None, :] + ring[None, :, :]).reshape(-1, 2)
    return hull(grown)


def edge_regions_geojson(rsus: Table, georef: GeoReference | None = None,
                         pad_m: float = REGION_PAD_M) -> dict[str, Any]:
    """A Polygon per edge node: its RSUs' convex hull grown by ``pad_m``.

    Properties: ``edge_node`` (``edge-0``), ``rsus`` (how many), ``sensors`` (wired to
    those RSUs, when ``rsus.csv`` says).
    """
    transform, extra = _transform(georef)
    names = (rsus["edge_node"] if "edge_node" in rsus
             else np.array([f"edge-{e}" for e in rsus["edge"].tolist()]))
    features = []
    for name in sorted(set(names.tolist()), key=lambda n: (len(n), n)):
        mask = names == name
        outline = region_outline(np.stack([rsus["x_m"][mask], rsus["y_m"][mask]], axis=1),
                                 pad_m)
        ring = _coordinates(outline[:, 0], outline[:, 1], transform)
        props: dict[str, Any] = {"edge_node": str(name), "rsus": int(mask.sum())}
        if "sensors" in rsus:
            props["sensors"] = int(np.asarray(rsus["sensors"])[mask].sum())
        features.append({"type": "Feature", "id": str(name),
                         "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
                         "properties": props})
    return _collection(features, extra, "edge_regions")
