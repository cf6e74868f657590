"""Road network: arrays + CSR graph, generators, file import, link model, routing."""

from v2x_sim.road.network import Network, RoadClass, build_network
from v2x_sim.road.routing import RouteTables

__all__ = ["Network", "RoadClass", "RouteTables", "build_network"]
