"""Control: the rerouting policy interface, built-in policies, registry, the control loop."""

from v2x_sim.control.loop import ControlLoop
from v2x_sim.control.policy import Policy, PolicyView, RouteAdvice, VehiclesView
from v2x_sim.control.registry import BUILT_IN, make_policy, resolve_policy_class

__all__ = [
    "BUILT_IN",
    "ControlLoop",
    "Policy",
    "PolicyView",
    "RouteAdvice",
    "VehiclesView",
    "make_policy",
    "resolve_policy_class",
]
