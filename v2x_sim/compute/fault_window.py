"""One flow window's messages re-routed or dropped by fault windows (edge, WAN, cloud).

Called by the tick process (`compute.background`) only in flow windows a fault window
meets; the arrays it filters are the window's streams, so the cost is a few numpy
operations per stream and fault window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from v2x_sim.comms.messages import MessageKind
from v2x_sim.compute.faults import FaultPlan
from v2x_sim.compute.servers import Stream
from v2x_sim.metrics.latency import LatencyBook

EdgeStreams = tuple[list[Stream], list[Stream], list[Stream]]
"""Per edge node: sensor frames, BSMs, aggregates."""


def _subset(stream: Stream, keep: np.ndarray) -> Stream:
    return Stream(stream.arrival_s[keep], stream.service_s[keep], stream.kind[keep],
                  stream.born_s[keep], None if stream.payload is None else stream.payload[keep])


def fail_over_window(plan: FaultPlan, book: LatencyBook, streams: EdgeStreams,
                     window: tuple[float, float],
                     forget_aggregate: Callable[[int], None]) -> tuple[
                         list[Stream], list[Stream], list[Stream], Stream]:
    """Frames and BSMs bound for a failed edge node go by ``edge.failover``.

    A failed node builds no aggregates: those due in its window are lost (``outage``).

    Returns:
        (frames, bsm, aggregates) per edge node after re-routing, and the stream the
        cloud takes over.
    """
    frames, bsm, aggregates = streams
    start_s, end_s = window
    frames, frames_cloud = plan.fail_over(book, frames, start_s, end_s)
    bsm, bsm_cloud = plan.fail_over(book, bsm, start_s, end_s)
    kept = []
    for e, stream in enumerate(aggregates):
        hit = plan.route_edge(np.full(len(stream), e, np.int64), stream.arrival_s,
                              start_s, end_s)[2]
        alive = plan.drop(book, int(MessageKind.AGGREGATE), hit)
        for p in stream.payload_ids()[~alive].tolist():
            forget_aggregate(p)
        kept.append(stream if alive.all() else _subset(stream, alive))
    return frames, bsm, kept, Stream.merged(frames_cloud, bsm_cloud)


def reach_cloud(plan: FaultPlan, book: LatencyBook, batch: Stream, wan_s: float,
                forget_status: Callable[[Any], Any],
                forget_aggregate: Callable[[int], None]) -> Stream:
    """Drop the cloud-bound messages a cloud outage or a WAN cut loses (``outage``).

    A message is lost if the cloud is out when it arrives, or the WAN is cut when it
    enters the WAN (``wan_s`` before). Their content is forgotten.
    """
    hit = plan.cloud_cut(batch.arrival_s, wan_s)
    if (hit < 0).all():
        return batch
    alive = np.ones(len(batch), bool)
    for kind in np.unique(batch.kind[hit >= 0]).tolist():
        mine = batch.kind == kind
        alive[mine] = plan.drop(book, kind, np.where(mine, hit, -1))[mine]
    gone, gone_kind = batch.payload_ids()[~alive], batch.kind[~alive]
    status = gone[(gone_kind == int(MessageKind.STATUS)) & (gone >= 0)]
    if status.size:
        forget_status(status)
    for p in gone[(gone_kind == int(MessageKind.AGGREGATE)) & (gone >= 0)].tolist():
        forget_aggregate(p)
    return _subset(batch, alive)
