"""The connected vehicles on links now, as arrays: what they send about themselves.

Every flow window (their BSMs and status reports), every warning broadcast (who may be
addressed) and every look of the queue-tail detector takes the connected vehicles that
are on a link, with the link and when they entered it and may leave it. Over the
fleet's active set (`VehicleTable.unfinished`) that was a mask and four gathers, some
ten numpy calls of ~2 µs each on a few thousand rows, ~11,000 times in the zone's hour;
here the filter and the gathers are one compiled pass over the active rows.

A warning broadcast only addresses vehicles on the few links upstream of its hazard,
and most of the zone's ~9,800 broadcasts an hour find nobody new there: for those,
`ConnectedVehicles.on` keeps only the rows on the given links in the same pass, so a
broadcast gathers a few dozen rows instead of every connected vehicle on the road.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.traffic.fleet import VehicleTable

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def connected_on_links(fleet: VehicleTable) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """(trip ids, link, entered_s, ready_s) of the connected trips on a link, ids ascending.

    The same rows in the same order as ``out[fleet.connected[out] & (fleet.link[out] >=
    0)]`` with ``out = fleet.unfinished()``, and their columns.
    """
    return _on_links(fleet.unfinished(), fleet.connected, fleet.link, fleet.entered_s,
                     fleet.ready_s)


class ConnectedVehicles:
    """A fleet's connected vehicles on links, as the V2X side reads them (`Senders`).

    Calling it gives `connected_on_links`; `on` gives the rows of that on some links.
    """

    def __init__(self, fleet: VehicleTable) -> None:
        self.fleet = fleet

    def __call__(self) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """(trip ids, link, entered_s, ready_s) of every connected trip on a link."""
        return connected_on_links(self.fleet)

    def on(self, links: BoolArray) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """The rows of ``self()`` whose link is one where ``links`` is True, in its order."""
        fleet = self.fleet
        return _on_links_of(fleet.unfinished(), fleet.connected, fleet.link, fleet.entered_s,
                            fleet.ready_s, np.ascontiguousarray(links, np.bool_))


@njit(cache=True, nogil=True)
def _on_links_of(out, connected, link, entered_s, ready_s, wanted):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`_on_links` keeping only the rows on links where ``wanted`` is True."""
    n = 0
    for row in out:
        lk = link[row]
        if lk >= 0 and connected[row] and wanted[lk]:
            n += 1
    ids = np.empty(n, np.int64)
    on = np.empty(n, np.int64)
    entered = np.empty(n)
    ready = np.empty(n)
    k = 0
    for row in out:
        lk = link[row]
        if lk >= 0 and connected[row] and wanted[lk]:
            ids[k] = row
            on[k] = lk
            entered[k] = entered_s[row]
            ready[k] = ready_s[row]
            k += 1
    return ids, on, entered, ready


@njit(cache=True, nogil=True)
def _on_links(out, connected, link, entered_s, ready_s):  # type: ignore[no-untyped-def]  # pragma: no cover
    n = out.shape[0]
    ids = np.empty(n, np.int64)
    on = np.empty(n, np.int64)
    entered = np.empty(n)
    ready = np.empty(n)
    k = 0
    for row in out:
        lk = link[row]
        if connected[row] and lk >= 0:
            ids[k] = row
            on[k] = lk
            entered[k] = entered_s[row]
            ready[k] = ready_s[row]
            k += 1
    return ids[:k], on[:k], entered[:k], ready[:k]
