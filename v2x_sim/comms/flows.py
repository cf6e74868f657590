"""Periodic flows as arrays: who sends when, and where a sender is, for a whole window.

A sender with period P has a fixed phase in [0, P) derived from its id (golden-ratio
spacing, so phases spread evenly without a random draw and without touching any random
stream). All sends of all senders in a window come out of a handful of numpy calls;
no message is ever a Python object.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

GOLDEN = 0.6180339887498949

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def phases_s(sender_ids: IntArray, period_s: float) -> FloatArray:
    """Phase of each sender within its period: frac(id x golden ratio) x P."""
    return np.mod(sender_ids * GOLDEN, 1.0) * period_s


def send_times(sender_ids: IntArray, period_s: float, start_s: float,
               end_s: float) -> tuple[IntArray, FloatArray]:
    """Every send in [start, end) of senders sending at ``phase + k P``.

    The sends of a sender are numbered k = K(start) ... K(end) - 1 with
    K(t) = ceil((t - phase) / P - 1e-9): consecutive windows share their boundary and so
    its K, and every send falls in exactly one window whatever the rounding of t / P (a
    send within a nanosecond-scale tolerance of a boundary belongs to the later window).

    Returns (index into ``sender_ids`` per message, send time per message).
    """
    if sender_ids.size == 0 or end_s <= start_s:
        return np.zeros(0, np.int64), np.zeros(0)
    phase = phases_s(sender_ids, period_s)
    first = np.ceil((start_s - phase) / period_s - 1e-9)
    count = np.maximum(np.ceil((end_s - phase) / period_s - 1e-9) - first, 0).astype(np.int64)
    sender = np.repeat(np.arange(sender_ids.size), count)
    step = np.arange(sender.size) - np.repeat(np.cumsum(count) - count, count)
    return sender, phase[sender] + (first[sender] + step) * period_s


def offsets_on_link(at_s: FloatArray, entered_s: FloatArray, ready_s: FloatArray,
                    length_m: FloatArray) -> FloatArray:
    """Position along the link at ``at_s``, moving uniformly from entry to earliest exit.

    Vehicles past their earliest exit stand in the queue at the link's end.
    """
    duration = ready_s - entered_s
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(duration > 0, (at_s - entered_s) / duration, 1.0)
    return np.clip(share, 0.0, 1.0) * length_m


def group_by(keys: IntArray, times_s: FloatArray, n_groups: int,
             origin_s: float = 0.0) -> tuple[IntArray, IntArray]:
    """A permutation sorting by (key, time), and each key's [start, end) bounds.

    One stable sort of integer bucket keys ``key * 2**40 + nanoseconds since origin``
    (about five times faster than a two-key lexsort on floats); times closer than a
    nanosecond keep their input order. The bounds come from a bincount, so splitting tens
    of thousands of messages by edge node costs no Python loop.
    """
    ticks = np.round((times_s - origin_s) * 1e9).astype(np.int64)
    order = np.argsort(keys.astype(np.int64) * (1 << 40) + ticks, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(keys, minlength=n_groups))))
    return order, bounds
