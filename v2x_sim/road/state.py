"""Link state: one type for the road's truth and for the cloud's belief.

Both are per-link travel-time estimates with the time their information is from, so the
error and the age of the platform's belief against the truth are plain array arithmetic.
"""

from __future__ import annotations

import math
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


BLOCKED_S = 1e6
"""Travel time the truth gives a link that discharges nothing right now (every lane
closed, or its head held by a full downstream link): a sentinel, not a duration."""


def estimate_error(belief: LinkState, truth: LinkState) -> dict[str, float]:
    """Mean absolute and mean relative error of a belief against the truth.

    Over every link the truth can put a time on: a link blocked at this instant
    (`BLOCKED_S`) has no finite true time to compare with, and one such link would
    otherwise add ~10^6 s / n to the mean (it is ranked in the flow-weighted error, where
    its flow is ~0, and avoided by the oracle all the same).
    """
    timed = truth.travel_time_s < BLOCKED_S
    if not timed.any():
        return {"mae_s": math.nan, "relative": math.nan}
    diff = np.abs(belief.travel_time_s[timed] - truth.travel_time_s[timed])
    return {
        "mae_s": float(diff.mean()),
        "relative": float((diff / np.maximum(truth.travel_time_s[timed], 1e-9)).mean()),
    }
