"""Built-in rerouting policies, one module each."""

from v2x_sim.control.policies.at_departure import AtDeparture
from v2x_sim.control.policies.dynamic_shortest import DynamicShortest
from v2x_sim.control.policies.none import NoRerouting
from v2x_sim.control.policies.oracle import Oracle

__all__ = ["AtDeparture", "DynamicShortest", "NoRerouting", "Oracle"]
