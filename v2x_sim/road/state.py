"""Link state: one type for the road's truth and for the cloud's belief.

Both are per-link travel-time estimates with the time their information is from, so the
error and the age of the platform's belief against the truth are plain array arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LinkState:
    """Travel time per link and when it was measured (NaN: never; free flow assumed).

    Attributes:
        travel_time_s: estimated time to traverse each link.
        measured_s: time the estimate's newest information is from.
        free_flow_s: the free-flow travel time (the fallback).
        density_vpm: vehicles per metre (all lanes) where sensors see the link, else NaN.
    """

    travel_time_s: FloatArray
    measured_s: FloatArray
    free_flow_s: FloatArray
    density_vpm: FloatArray | None = None

    def age_s(self, now_s: float) -> FloatArray:
        """Age of information per link (inf where nothing was ever measured)."""
        return np.where(np.isnan(self.measured_s), np.inf, now_s - self.measured_s)

    def fresh(self, now_s: float, max_age_s: float) -> NDArray[np.bool_]:
        """Links whose information is at most ``max_age_s`` old."""
        return self.age_s(now_s) <= max_age_s


def estimate_error(belief: LinkState, truth: LinkState) -> dict[str, float]:
    """Mean absolute and mean relative error of a belief against the truth, all links."""
    diff = np.abs(belief.travel_time_s - truth.travel_time_s)
    return {
        "mae_s": float(diff.mean()),
        "relative": float((diff / np.maximum(truth.travel_time_s, 1e-9)).mean()),
    }
