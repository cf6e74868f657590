"""Longitude/latitude to metres, and geodesic lengths, through pyproj (optional extra).

The simulator works in metres on a plane. Geographic sources (OpenStreetMap, GMNS in
EPSG:4326) are projected to the UTM zone of their centre, the usual choice for a city
(scale error under 0.1 % within a zone), and shifted so that coordinates start near
zero; `import.json` keeps the zone and the shift. Link lengths come from the geodesic
length of their geometry on the WGS84 ellipsoid, not from the projection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from v2x_sim._core.errors import V2XSimError


class MissingExtraError(V2XSimError):
    """An optional dependency needed for this input is not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package, self.extra = package, extra
        super().__init__(f"{purpose} needs {package}: pip install 'v2x-sim[{extra}]'")


def require(module: str, package: str, extra: str, purpose: str) -> Any:
    """Import an optional module, or raise one clear line naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(package, extra, purpose) from None


@dataclass(frozen=True)
class Projection:
    """Longitude/latitude to plane metres (UTM zone of the data, shifted).

    Attributes:
        crs: the UTM zone as ``EPSG:326NN`` (north) or ``EPSG:327NN`` (south).
        offset_m: subtracted from the projected coordinates.
    """

    crs: str
    offset_m: tuple[float, float]
    _transformer: Any
    _geod: Any

    def xy(self, lon: Sequence[float], lat: Sequence[float]) -> tuple[list[float], list[float]]:
        """Plane coordinates of points (metres, shifted by ``offset_m``)."""
        x, y = self._transformer.transform(list(lon), list(lat))
        dx, dy = self.offset_m
        return [float(v) - dx for v in x], [float(v) - dy for v in y]

    def length_m(self, lon: Sequence[float], lat: Sequence[float]) -> float:
        """Geodesic length of a polyline on the WGS84 ellipsoid."""
        return float(self._geod.line_length(list(lon), list(lat)))


def utm_projection(lon: Sequence[float], lat: Sequence[float], purpose: str) -> Projection:
    """The projection for points around (``lon``, ``lat``): their centre's UTM zone.

    The offset is the rounded (whole-kilometre) minimum of the projected points, so the
    network starts near the origin and the shift is easy to read back.

    Raises:
        MissingExtraError: pyproj is not installed.
    """
    pyproj = require("pyproj", "pyproj", "osm", purpose)
    lon0 = (min(lon) + max(lon)) / 2.0
    lat0 = (min(lat) + max(lat)) / 2.0
    zone = int((lon0 + 180.0) // 6.0) % 60 + 1
    code = (32600 if lat0 >= 0 else 32700) + zone
    transformer = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{code}", always_xy=True)
    x, y = transformer.transform(list(lon), list(lat))
    offset = (math.floor(min(x) / 1000.0) * 1000.0, math.floor(min(y) / 1000.0) * 1000.0)
    return Projection(crs=f"EPSG:{code}", offset_m=offset, _transformer=transformer,
                      _geod=pyproj.Geod(ellps="WGS84"))
