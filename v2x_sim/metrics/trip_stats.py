"""Headline trip statistics from plain arrays (no domain objects)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from v2x_sim.metrics.summary import mean_or_nan, percentile_or_nan


def trip_summary(*, depart_s: NDArray[np.float64], arrive_s: NDArray[np.float64],
                 free_flow_s: NDArray[np.float64], shortest_s: NDArray[np.float64],
                 dwell_s: NDArray[np.float64], distance_m: NDArray[np.float64],
                 moved_on: NDArray[np.int64], window_s: tuple[float, float],
                 end_s: float | None = None) -> dict[str, float | int]:
    """Trip counts, travel time, delay and detour statistics, vehicle-hours and -km.

    Only trips departing inside ``window_s`` (warm-up excluded) are counted. A trip
    is completed when ``arrive_s`` is not NaN. Travel time = arrive - depart (origin
    waiting included); delay = travel time - ``shortest_s`` (the O–D shortest free-flow
    time, through any stops) - dwell, so a detour's extra distance counts as delay;
    detour = ``free_flow_s`` (free-flow time of the path driven) - ``shortest_s``.
    Vehicle-hours count each trip's time in the system up to the run's end,
    completed or not.

    ``end_s`` is when the run ended: the window's end (the horizon) unless the run
    drained past it. Trips not arrived by then are ``trips_on_road``, with the mean time
    they had spent in the system (``trips_on_road_elapsed_mean_s``, end - depart).
    """
    start, end = window_s
    until = end if end_s is None else end_s
    counted = (depart_s >= start) & (depart_s < end)
    done = counted & ~np.isnan(arrive_s)
    open_ = counted & np.isnan(arrive_s)
    travel = arrive_s[done] - depart_s[done]
    delay = travel - shortest_s[done] - dwell_s[done]
    detour = free_flow_s[done] - shortest_s[done]
    in_system = np.minimum(np.where(np.isnan(arrive_s), until, arrive_s), until) - depart_s
    hours = (end - start) / 3600.0
    started = int(counted.sum())
    completed = int(done.sum())
    return {
        "trips_started": started,
        "trips_completed": completed,
        "trips_on_road": started - completed,
        "trips_on_road_elapsed_mean_s": mean_or_nan(until - depart_s[open_]),
        "travel_time_mean_s": mean_or_nan(travel),
        "travel_time_p50_s": percentile_or_nan(travel, 50),
        "travel_time_p95_s": percentile_or_nan(travel, 95),
        "delay_mean_s": mean_or_nan(delay),
        "delay_p95_s": percentile_or_nan(delay, 95),
        "detour_mean_s": mean_or_nan(detour),
        "vehicle_hours": float(in_system[counted].sum() / 3600.0),
        "vehicle_km": float(distance_m[counted].sum() / 1000.0),
        "throughput_vph": completed / hours if hours > 0 else math.nan,
        "moved_on": int(moved_on[counted].sum()),
    }
