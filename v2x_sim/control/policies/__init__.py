"""Built-in rerouting policies, one module each."""

from v2x_sim.control.policies.at_departure import AtDeparture
from v2x_sim.control.policies.dynamic_shortest import DynamicShortest
from v2x_sim.control.policies.incident_detour import IncidentDetour
from v2x_sim.control.policies.none import NoRerouting
from v2x_sim.control.policies.oracle import Oracle
from v2x_sim.control.policies.predictive import Predictive
from v2x_sim.control.policies.probabilistic import Probabilistic
from v2x_sim.control.policies.system_optimal import SystemOptimal

__all__ = ["AtDeparture", "DynamicShortest", "IncidentDetour", "NoRerouting", "Oracle",
           "Predictive", "Probabilistic", "SystemOptimal"]
