"""Per link and time bin: mean vehicles, space-mean speed and flow, from traversal records.

A traversal is one vehicle's stay on one link, ``[t_in, t_out)``, over which it covers
a distance: the link's length if it left, what it had covered by the end of the run if
it is still there (the caller knows how far it got). Assuming a uniform pace over the
stay (queueing included), the time and distance it spends in each bin follow from the
overlap of its stay with the bin. Summed per (link, bin):

* vehicles = vehicle-seconds / bin length (time-mean count on the link),
* mean speed = vehicle-metres / vehicle-seconds (space-mean speed),
* flow = traversals ending in the bin / bin length.

All vectorised: each traversal is expanded once per bin it touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class LinkSeries:
    """Arrays of shape (n_links, n_bins); ``bin_edges_s`` has n_bins + 1 entries."""

    bin_edges_s: NDArray[np.float64]
    vehicle_seconds: NDArray[np.float64]
    vehicle_metres: NDArray[np.float64]
    exits: NDArray[np.int64]
    entries: NDArray[np.int64]

    @property
    def bin_s(self) -> NDArray[np.float64]:
        """Length of each bin."""
        return np.diff(self.bin_edges_s)

    @property
    def vehicles(self) -> NDArray[np.float64]:
        """Time-mean number of vehicles on the link."""
        return self.vehicle_seconds / self.bin_s

    @property
    def mean_speed_mps(self) -> NDArray[np.float64]:
        """Space-mean speed; NaN where no vehicle was on the link."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.vehicle_seconds > 0,
                            self.vehicle_metres / self.vehicle_seconds, np.nan)

    @property
    def flow_vph(self) -> NDArray[np.float64]:
        """Vehicles leaving the link per hour."""
        return self.exits * 3600.0 / self.bin_s


def link_series(link: NDArray[np.int64], t_in: NDArray[np.float64],
                t_out: NDArray[np.float64], completed: NDArray[np.bool_], *,
                length_m: NDArray[np.float64], horizon_s: float, bin_s: float,
                covered_m: NDArray[np.float64] | None = None) -> LinkSeries:
    """Bin traversals into per-link time series.

    Args:
        link: link index per traversal.
        t_in: entry time per traversal.
        t_out: exit time (the horizon for vehicles still on the link).
        completed: whether the traversal ended (counts as an exit).
        length_m: length of every link.
        horizon_s: end of the run; the last bin is cut there.
        bin_s: bin length.
        covered_m: distance covered per traversal (default: the whole link). A vehicle
            still on its link at the end has covered only part of it; counting the whole
            length would credit it with speeds above the free speed.
    """
    n_links = len(length_m)
    edges = np.arange(0.0, horizon_s, bin_s)
    edges = np.append(edges, horizon_s)
    n_bins = len(edges) - 1
    t_out = np.minimum(t_out, horizon_s)
    first = np.clip((t_in // bin_s).astype(np.int64), 0, n_bins - 1)
    last = np.clip((np.nextafter(t_out, -np.inf) // bin_s).astype(np.int64), 0, n_bins - 1)
    last = np.maximum(last, first)
    span = last - first + 1
    row = np.repeat(np.arange(len(link)), span)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(span) - span, span)
    bins = first[row] + offset
    lo = np.maximum(t_in[row], edges[bins])
    hi = np.minimum(t_out[row], edges[bins + 1])
    overlap = np.maximum(hi - lo, 0.0)
    duration = t_out - t_in
    distance = length_m[link] if covered_m is None else np.minimum(covered_m, length_m[link])
    with np.errstate(invalid="ignore", divide="ignore"):
        pace = np.where(duration > 0, distance / duration, 0.0)
    flat = link[row] * n_bins + bins
    size = n_links * n_bins
    veh_s = np.asarray(np.bincount(flat, weights=overlap, minlength=size), dtype=np.float64)
    veh_m = np.asarray(np.bincount(flat, weights=overlap * pace[row], minlength=size),
                       dtype=np.float64)
    exit_bin = np.clip((t_out // bin_s).astype(np.int64), 0, n_bins - 1)
    done = completed & (t_out < horizon_s)
    exits = np.bincount(link[done] * n_bins + exit_bin[done], minlength=size)
    entries = np.bincount(link * n_bins + first, minlength=size)
    return LinkSeries(edges, veh_s.reshape(n_links, n_bins), veh_m.reshape(n_links, n_bins),
                      exits.reshape(n_links, n_bins),
                      entries.reshape(n_links, n_bins))
