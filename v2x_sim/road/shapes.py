"""Link shapes: the polyline a road really follows between its two end nodes.

The traffic model needs only a link's length; maps and roadside devices need where the
road runs. Shapes are stored like a CSR matrix: the points of link ``i`` are
``x_m[offsets[i]:offsets[i + 1]]`` (and ``y_m``); a link with no points is straight
between its end nodes. In files a shape is written the way SUMO writes it: points
separated by spaces, coordinates by a comma, in metres (``"0.00,0.00 120.50,3.20"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class LinkShapes:
    """Polylines of the links, flat (see the module docstring).

    Attributes:
        offsets: ``n_links + 1`` positions into the point arrays.
        x_m, y_m: the points, link after link.
    """

    offsets: IntArray
    x_m: FloatArray
    y_m: FloatArray

    @classmethod
    def from_polylines(cls, polylines: Sequence[tuple[Sequence[float], Sequence[float]] | None]
                       ) -> LinkShapes:
        """Shapes from one ``(xs, ys)`` per link, or None for a straight link."""
        counts = [0 if p is None else len(p[0]) for p in polylines]
        xs = [float(v) for p in polylines if p is not None for v in p[0]]
        ys = [float(v) for p in polylines if p is not None for v in p[1]]
        offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.int64))).astype(np.int64)
        return cls(offsets=offsets, x_m=np.array(xs, np.float64), y_m=np.array(ys, np.float64))

    def points(self, link: int) -> tuple[FloatArray, FloatArray] | None:
        """The polyline of one link, or None when it is straight."""
        start, end = int(self.offsets[link]), int(self.offsets[link + 1])
        if start == end:
            return None
        return self.x_m[start:end], self.y_m[start:end]

    def text(self, link: int) -> str:
        """The shape of one link as file text (empty when it is straight)."""
        polyline = self.points(link)
        return "" if polyline is None else format_shape(*polyline)

    def same_as(self, other: LinkShapes | None) -> bool:
        """Whether two shape tables hold the same points."""
        return other is not None and all(
            np.array_equal(a, b) for a, b in ((self.offsets, other.offsets),
                                              (self.x_m, other.x_m), (self.y_m, other.y_m)))


def format_shape(x_m: Sequence[float] | FloatArray, y_m: Sequence[float] | FloatArray) -> str:
    """``"x,y x,y ..."`` to the centimetre (what a map can show)."""
    return " ".join(f"{float(x):.2f},{float(y):.2f}" for x, y in zip(x_m, y_m, strict=True))


def parse_shape(text: str) -> tuple[list[float], list[float]]:
    """The points of a shape written as ``"x,y x,y ..."`` (at least two).

    Raises:
        ValueError: with a message saying which point is malformed.
    """
    xs, ys = [], []
    for k, point in enumerate(text.split()):
        parts = point.split(",")
        try:
            x, y = (float(v) for v in parts)
        except ValueError:
            raise ValueError(f"point {k + 1} {point!r} is not 'x,y' (metres)") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"point {k + 1} {point!r} is not finite")
        xs.append(x)
        ys.append(y)
    if len(xs) < 2:
        raise ValueError(f"{text!r} has {len(xs)} point(s); a shape needs at least two "
                         "'x,y' points separated by spaces")
    return xs, ys


def polyline_length_m(x_m: Sequence[float] | FloatArray, y_m: Sequence[float] | FloatArray
                      ) -> float:
    """Length of a polyline, the sum of its segments."""
    x, y = np.asarray(x_m, np.float64), np.asarray(y_m, np.float64)
    return float(np.hypot(np.diff(x), np.diff(y)).sum())
