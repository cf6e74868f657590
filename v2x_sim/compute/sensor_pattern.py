"""The roadside sensors' frames of one flow window, worked out once for every window.

Each sensor sends a whole number of frames per window (a condition on ``v2x.tick_s``),
so the frames of any window are those of the first shifted by the window's start: their
send times, backhaul and arrivals at each edge node, sorted, are computed once here and
handed to the edge nodes' queues as offsets (`pool_group.PoolGroup` adds the window's
start as it reads them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim.comms.flows import group_by, send_times
from v2x_sim.comms.messages import MessageKind
from v2x_sim.compute.roadside import Devices
from v2x_sim.compute.service import draw_service_s
from v2x_sim.compute.streams import Stream, StreamSet
from v2x_sim.metrics.histogram import LogHistogram
from v2x_sim.scenario.v2x_sections import ServiceParams

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class SensorPattern:
    """One window's frames per edge node, as offsets from the window's start.

    Attributes:
        streams: per edge node, its frames sorted by arrival (service times are the
            deterministic means; a run with drawn service times draws them per window).
        sensor: per edge node, the sensor that sent each of its frames.
        flat: ``streams`` in one set of arrays (what the edge nodes' group serves).
        backhaul: the frames' sensor-to-edge delays, binned once (every full window
            repeats them).
    """

    streams: list[Stream]
    sensor: list[IntArray]
    flat: StreamSet
    backhaul: LogHistogram


def sensor_pattern(devices: Devices, tick_s: float, sensor_link_s: float,
                   rsu_fibre_s: FloatArray, service: ServiceParams,
                   rng: np.random.Generator) -> SensorPattern:
    """Every sensor's frames of the window [0, ``tick_s``), grouped by edge node.

    Args:
        devices: the roadside devices (sensors, their RSU and edge node, frame rates).
        tick_s: the flow window.
        sensor_link_s: sensor-to-RSU delay.
        rsu_fibre_s: each RSU's backhaul delay to its edge node.
        service: the edge's service time of one frame.
        rng: the edge nodes' service stream (not drawn from: the means are used).

    Raises:
        ScenarioError: some sensor does not send a whole number of frames per window.
    """
    sensors = devices.sensors
    rate = devices.frame_rate_hz[sensors]
    per_window = rate * tick_s
    bad = np.flatnonzero(np.abs(per_window - np.round(per_window)) > 1e-9)
    if bad.size:
        raise ScenarioError("v2x.tick_s", tick_s, "every sensor must send a whole number of "
                            f"frames per tick (frame rate {rate[bad[0]]:g} Hz); choose a "
                            "tick that is a multiple of every frame period")
    period = 1.0 / np.maximum(rate, 1e-12)
    index, born = [], []
    for p in np.unique(period):
        group = sensors[period == p]
        who, at = send_times(group, float(p), 0.0, tick_s)
        index.append(group[who])
        born.append(at)
    sensor = np.concatenate(index) if index else np.zeros(0, np.int64)
    born_s = np.concatenate(born) if born else np.zeros(0)
    backhaul = sensor_link_s + rsu_fibre_s[devices.rsu[sensor]]
    binned = LogHistogram()
    binned.add(backhaul)
    arrival = born_s + backhaul
    order, bounds = group_by(devices.edge[sensor], arrival, devices.n_edges)
    kind = np.full(order.size, int(MessageKind.PERCEPTION))
    streams, senders = [], []
    for e in range(devices.n_edges):
        part = order[bounds[e]:bounds[e + 1]]
        senders.append(sensor[part])
        streams.append(Stream(arrival[part], draw_service_s(
            service, part.size, rng, deterministic=True), kind[: part.size], born_s[part]))
    return SensorPattern(streams, senders, StreamSet.of(streams), binned)
