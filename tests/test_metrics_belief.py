"""The belief's age of information over time, probe stamps, flow-weighted error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from v2x_sim.compute.cloud import Belief
from v2x_sim.metrics.belief_error import flow_weighted_error
from v2x_sim.world import build_world


def _belief() -> Belief:
    return Belief(np.array([50.0, 50.0]), weight=0.5, stale_after_s=300.0,
                  stale_to_free_flow=False)


def test_age_of_information_is_averaged_over_time() -> None:
    """Link 0: a sample stamped 10 s reaches the cloud at 12 s, one stamped 20 s at 21 s.
    Age from 12 to 21 s is t - 10: integral (11^2 - 2^2) / 2 = 58.5 s^2; from 21 to 30 s
    it is t - 20: (10^2 - 1^2) / 2 = 49.5 s^2. Over the 18 s since the first sample: 108
    / 18 = 6.0 s. (Sampled only when samples arrive, at 12 and 21 s, it would read 2 and
    1 s.) Link 1 never measured: left out."""
    belief = _belief()
    belief.ingest(np.array([12.0, 21.0]), np.array([0, 0]), np.array([60.0, 70.0]),
                  np.array([10.0, 20.0]))
    assert belief.age_time_mean_s(30.0) == pytest.approx(6.0, rel=1e-12)


def test_age_restarts_at_the_warm_up() -> None:
    """Restarted at 25 s (after both samples of the case above): from 25 to 30 s the age
    is t - 20, integral (10^2 - 5^2) / 2 = 37.5 s^2 over 5 s: 7.5 s."""
    belief = _belief()
    belief.ingest(np.array([12.0, 21.0]), np.array([0, 0]), np.array([60.0, 70.0]),
                  np.array([10.0, 20.0]))
    belief.restart_age(25.0)
    assert belief.age_time_mean_s(30.0) == pytest.approx(7.5, rel=1e-12)


def test_flow_weighted_error_by_hand() -> None:
    """Three links with flows 1, 3, 0 veh/s and errors 10, 2, 50 s (truths 100, 50,
    40 s), the first two measured: flow-weighted MAE (1 x 10 + 3 x 2) / 4 = 4 s (the
    unweighted mean of all three would be 20.7 s); relative (0.1 + 3 x 0.04) / 4 = 0.055.
    A fourth, unmeasured link with flow 1 and error 8 s: 8 s apart, 1/5 of the flow."""
    out = flow_weighted_error(np.array([110.0, 48.0, 90.0, 38.0]),
                              np.array([100.0, 50.0, 40.0, 30.0]),
                              np.array([1.0, 3.0, 0.0, 1.0]),
                              np.array([True, True, True, False]))
    assert out["mae_flow_s"] == pytest.approx(4.0)
    assert out["relative_flow"] == pytest.approx(0.055)
    assert out["mae_unmeasured_flow_s"] == pytest.approx(8.0)
    assert out["unmeasured_flow_share"] == pytest.approx(0.2)
    assert out["unmeasured_links"] == pytest.approx(0.25)
    empty = flow_weighted_error(np.ones(2), np.ones(2), np.zeros(2), np.array([True, False]))
    assert math.isnan(empty["mae_flow_s"])


def test_probes_are_stamped_when_the_vehicle_entered_the_link(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """One connected car departs at 10.25 s on two 1 km links at 20 m/s: it enters link 0
    at 10.25 s and leaves it at 60.25 s. Its status reports (1 Hz) then carry link 0's
    50 s traversal: the belief's information on link 0 is from 10.25 s (when the car
    found the link in that state), not from 60.25 s."""
    scenario = line_scenario(
        [{}, {}], simulation={"horizon_s": 200, "deterministic": True},
        demand={"trips": [{"depart_s": 10.25, "origin": 0, "destination": 2,
                           "connected": True}]},
        control={"policy": "dynamic_shortest"}, roadside={"sensors": []})
    world = build_world(scenario)
    world.run()
    state = world.control._belief(200.0)  # type: ignore[union-attr]
    assert state.measured_s[0] == pytest.approx(10.25, rel=1e-12)
    assert state.travel_time_s[0] == pytest.approx(50.0, rel=1e-12)


def test_belief_error_leaves_out_links_the_truth_cannot_time() -> None:
    """A link blocked now (truth = the `BLOCKED_S` sentinel) is left out of the plain
    means: belief (10, 20, 30) against truth (12, blocked, 30) gives an MAE of
    (2 + 0) / 2 = 1 s and a relative error of (2/12 + 0) / 2, not ~333,000 s."""
    import numpy as np

    from v2x_sim.road.state import BLOCKED_S, LinkState, estimate_error

    free = np.array([10.0, 20.0, 30.0])
    belief = LinkState(np.array([10.0, 20.0, 30.0]), np.zeros(3), free)
    truth = LinkState(np.array([12.0, BLOCKED_S, 30.0]), np.zeros(3), free)
    error = estimate_error(belief, truth)
    assert error["mae_s"] == 1.0
    assert error["relative"] == (2.0 / 12.0) / 2
