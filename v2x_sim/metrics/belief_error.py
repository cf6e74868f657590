"""Belief error weighted by flow, measured and unmeasured links apart (plain arrays).

An error on a link nobody drives costs nothing; one on a busy link misroutes many. So
the belief's error is weighted by each link's flow (vehicles per second, from the truth:
vehicles on the link / its travel time, Little's law), and links the platform has no
current measurement of (never measured, or older than the stale limit) are reported
apart: their error is a prior's error, not the estimator's.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def flow_weighted_error(estimate_s: FloatArray, truth_s: FloatArray, flow_vps: FloatArray,
                        measured: NDArray[np.bool_]) -> dict[str, float]:
    """Flow-weighted mean absolute and relative error, measured and unmeasured apart.

    ``mae = sum(q |x - t|) / sum(q)`` over the measured links (``mae_flow_s``,
    ``relative_flow`` with ``|x - t| / t``) and over the unmeasured ones
    (``mae_unmeasured_flow_s``); ``unmeasured_flow_share`` is the unmeasured links'
    share of the flow, ``unmeasured_links`` their share of the links. NaN where a group
    carries no flow.
    """
    q = np.where(np.isfinite(flow_vps), np.maximum(flow_vps, 0.0), 0.0)
    diff = np.abs(estimate_s - truth_s)
    finite = np.isfinite(diff)
    q = np.where(finite, q, 0.0)
    diff = np.where(finite, diff, 0.0)
    rel = diff / np.maximum(np.where(np.isfinite(truth_s), truth_s, 1.0), 1e-9)

    def weighted(values: FloatArray, mask: NDArray[np.bool_]) -> float:
        total = float(q[mask].sum())
        return float((q[mask] * values[mask]).sum() / total) if total > 0 else math.nan

    flow = float(q.sum())
    return {
        "mae_flow_s": weighted(diff, measured),
        "relative_flow": weighted(rel, measured),
        "mae_unmeasured_flow_s": weighted(diff, ~measured),
        "unmeasured_flow_share": float(q[~measured].sum() / flow) if flow > 0 else math.nan,
        "unmeasured_links": float((~measured).mean()) if measured.size else math.nan,
    }
