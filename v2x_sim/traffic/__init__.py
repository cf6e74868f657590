"""Traffic: demand, vehicle classes, the trip table and movement over the network."""

from v2x_sim.traffic.demand import TripPlan, build_trip_plan
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.movement import LinkTraffic

__all__ = ["LinkTraffic", "TripPlan", "VehicleTable", "build_trip_plan"]
