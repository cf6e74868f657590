"""Where an edge node's traffic goes while it is down (``edge.failover``).

``neighbour``: each RSU of the failed node keeps its own fibre to the node's site and
goes on over the longer path to the nearest healthy edge node: extra one-way delay
``fibre.delay_s(site distance, edge.failover_hops)``. ``cloud``: on over the WAN to the
cloud, which does the edge's work with the edge's service times. ``none``: lost
(``outage``). Streams of the failed node are split by message, vectorised: the home
node keeps what arrives outside the window, the rest moves (its arrival shifted by the
extra delay) or is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from v2x_sim.comms.channels import FibreLink
from v2x_sim.compute.servers import Stream

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

LOST = -1
"""Serving code of a message nobody takes."""
CLOUD = -2
"""Serving code of a message the cloud takes."""


@dataclass(frozen=True)
class Failover:
    """The fallback path of every edge node.

    Attributes:
        mode: ``neighbour``, ``cloud`` or ``none``.
        edge_x_m, edge_y_m: edge node sites.
        fibre: the fibre model of the longer path.
        hops: transport nodes added by the longer path.
        wan_s: one-way delay to the cloud.
    """

    mode: str
    edge_x_m: FloatArray
    edge_y_m: FloatArray
    fibre: FibreLink
    hops: int
    wan_s: float

    def extra_s(self, home: IntArray, target: IntArray) -> FloatArray:
        """One-way extra delay from ``home``'s site to ``target``'s (fibre and hops)."""
        distance = np.hypot(self.edge_x_m[home] - self.edge_x_m[target],
                            self.edge_y_m[home] - self.edge_y_m[target])
        return self.fibre.delay_s(distance, self.hops)

    def neighbours(self, down: NDArray[np.bool_]) -> IntArray:
        """Nearest edge node not ``down`` to each node (LOST if every other is down)."""
        n = self.edge_x_m.size
        distance = np.hypot(self.edge_x_m[:, None] - self.edge_x_m[None, :],
                            self.edge_y_m[:, None] - self.edge_y_m[None, :])
        distance[:, down] = np.inf
        distance[np.arange(n), np.arange(n)] = np.inf
        nearest = np.argmin(distance, axis=1)
        return np.where(np.isfinite(distance[np.arange(n), nearest]), nearest, LOST)

    def route(self, home: IntArray, down_hit: IntArray, down: NDArray[np.bool_]) -> tuple[
            IntArray, FloatArray]:
        """Serving node and extra one-way delay of messages bound for ``home``.

        Args:
            home: the edge node each message is bound for.
            down_hit: the edge_down window hitting each (-1: its node is up).
            down: the edge nodes down at some time in the current flow window (they
                take no failover traffic).

        Returns:
            (serving, extra_s): a node index, `CLOUD` or `LOST`; the added delay.
        """
        serving = home.copy()
        extra = np.zeros(home.size)
        moved = down_hit >= 0
        if not moved.any():
            return serving, extra
        if self.mode == "none":
            serving[moved] = LOST
        elif self.mode == "cloud":
            serving[moved] = CLOUD
            extra[moved] = self.wan_s
        else:
            target = self.neighbours(down)[home[moved]]
            serving[moved] = target
            ok = target >= 0
            part = np.flatnonzero(moved)[ok]
            extra[part] = self.extra_s(home[part], target[ok])
        return serving, extra


def split(stream: Stream, serving: IntArray, extra_s: FloatArray, n_edges: int) -> tuple[
        list[Stream], Stream]:
    """One stream's messages by serving node: per edge node, and the cloud's.

    Each part stays sorted (a sorted subset shifted by one constant per source node).
    Lost messages (`LOST`) are in no part.
    """
    def part(mask: NDArray[np.bool_]) -> Stream:
        if not mask.any():
            return Stream()
        return Stream(stream.arrival_s[mask] + extra_s[mask], stream.service_s[mask],
                      stream.kind[mask], stream.born_s[mask],
                      None if stream.payload is None else stream.payload[mask])

    return [part(serving == e) for e in range(n_edges)], part(serving == CLOUD)
