"""``oracle``: dynamic_shortest on the true link state with no delay.

This is how traffic simulators usually reroute, and it is a reference, not a deployable
policy: the gap between ``oracle`` and ``dynamic_shortest`` is the price of deciding on
delayed, partial information that travelled through the communication architecture.
"""

from __future__ import annotations

from v2x_sim.control.policies.dynamic_shortest import DynamicShortest


class Oracle(DynamicShortest):
    """Reads the truth; its advice reaches vehicles instantly and is never lost."""

    name = "oracle"
    uses_truth = True
