"""Compute: roadside devices, edge nodes, the cloud platform, and the loops they run."""

from v2x_sim.compute.background import BackgroundFlows, Channels
from v2x_sim.compute.hazards import HazardLoop
from v2x_sim.compute.queueing import fifo_departures, multi_server_fifo
from v2x_sim.compute.roadside import Coverage, Devices, build_coverage, build_devices
from v2x_sim.compute.servers import ServerPool, Stream

__all__ = [
    "BackgroundFlows",
    "Channels",
    "Coverage",
    "Devices",
    "HazardLoop",
    "ServerPool",
    "Stream",
    "build_coverage",
    "build_devices",
    "fifo_departures",
    "multi_server_fifo",
]
