"""Each policy's distinctive behaviour on hand-made beliefs, and compliance between the
extremes end to end.

The unit tests build a `PolicyView` directly on the two-route network of
test_rerouting: approach link 0 (0 -> 1, 100 s at free flow), route A = links 1, 2
(1 -> 2 -> 4) and route B = links 3, 4 (1 -> 3 -> 4), 50 s per link at free flow.
Vehicles stand on link 0 heading for node 4 on route A, so each policy's choice between
A and B is a number worked out by hand from the belief it is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_rerouting import write_two_route_network

from v2x_sim.control.policies import (
    AtDeparture,
    DynamicShortest,
    IncidentDetour,
    NoRerouting,
    Oracle,
    Predictive,
    Probabilistic,
    SystemOptimal,
)
from v2x_sim.control.policy import PolicyView, VehiclesView
from v2x_sim.road.io import read_network_csv
from v2x_sim.road.state import LinkState
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.world import build_world

FREE = np.array([100.0, 50.0, 50.0, 50.0, 50.0])
ROUTE_A, ROUTE_B = [1, 2], [3, 4]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("two_routes")
    write_two_route_network(folder)
    net = read_network_csv(folder / "nodes.csv", folder / "links.csv")
    np.testing.assert_allclose(net.free_flow_time_s, FREE)
    return net


def view(network, travel_s, *, n: int = 1, history=(), hazards=(), now_s: float = 120.0,
         remaining=None, seed: int = 0) -> PolicyView:  # type: ignore[no-untyped-def]
    """``n`` vehicles on link 0 bound for node 4 on ``remaining`` (route A by default)."""
    state = LinkState(np.asarray(travel_s, dtype=float), np.full(5, now_s), FREE.copy())
    vehicles = VehiclesView(ids=np.arange(100, 100 + n), link=np.zeros(n, np.int64),
                            next_node=np.ones(n, np.int64), destination=np.full(n, 4),
                            remaining=[list(remaining or ROUTE_A) for _ in range(n)])
    return PolicyView(now_s=now_s, network=network, belief=state, history=list(history),
                      vehicles=vehicles, rng=np.random.default_rng(seed),
                      hazard_links=tuple(hazards))


def advised(policy, v: PolicyView) -> list[list[int]]:  # type: ignore[no-untyped-def]
    return policy.decide(v).routes


def test_none_never_advises(network) -> None:  # type: ignore[no-untyped-def]
    assert advised(NoRerouting(), view(network, [100, 50, 500, 50, 50])) == []


def test_dynamic_shortest_advises_only_past_its_threshold(network) -> None:  # type: ignore[no-untyped-def]
    """Threshold 0.15. Route A 50 + 100 = 150 s vs B 100 s: saving 50 / 150 = 0.33,
    advised B. A 50 + 65 = 115 s: saving 15 / 115 = 0.13, left alone."""
    policy = DynamicShortest(threshold=0.15)
    assert advised(policy, view(network, [100, 50, 100, 50, 50])) == [ROUTE_B]
    assert advised(policy, view(network, [100, 50, 65, 50, 50])) == []


def test_dynamic_shortest_inertia_leaves_a_random_share_alone(network) -> None:  # type: ignore[no-untyped-def]
    """Inertia 0.3 with 400 eligible vehicles: about 0.7 x 400 = 280 advised; binomial
    standard deviation sqrt(400 x 0.7 x 0.3) = 9.2, band 4 of them."""
    routes = advised(DynamicShortest(threshold=0.15, inertia=0.3),
                     view(network, [100, 50, 100, 50, 50], n=400))
    assert abs(len(routes) - 280) <= 4 * 9.2
    assert all(r == ROUTE_B for r in routes)


def test_probabilistic_moves_its_share(network) -> None:  # type: ignore[no-untyped-def]
    """Share 0.3 of 400 candidates: 120 +- 4 x sqrt(400 x 0.3 x 0.7) = 120 +- 36.7."""
    routes = advised(Probabilistic(share=0.3, threshold=0.15),
                     view(network, [100, 50, 100, 50, 50], n=400))
    assert abs(len(routes) - 120) <= 36.7


def test_system_optimal_routes_on_marginal_cost(network) -> None:  # type: ignore[no-untyped-def]
    """Belief A = [50, 60], B = [50, 58], all free flow 50. Own travel time: 110 vs 108,
    saving 0.018 < 0.05: dynamic_shortest leaves it. Marginal cost t0 + 5 (t - t0):
    A = 50 + 50 + 5 x 10 = 150, B = 50 + 50 + 5 x 8 = 140, saving 0.067: advised B."""
    belief = [100, 50, 60, 50, 58]
    v = view(network, belief)
    np.testing.assert_allclose(SystemOptimal().costs(v), [100, 50, 100, 50, 90])
    assert advised(SystemOptimal(threshold=0.05), view(network, belief)) == [ROUTE_B]
    assert advised(DynamicShortest(threshold=0.05), view(network, belief)) == []


def test_predictive_routes_on_the_trend(network) -> None:  # type: ignore[no-untyped-def]
    """Link 2 was 50, 60, 70 s at 0, 60, 120 s: slope 1/6 s per s; 300 s ahead it is
    70 + 50 = 120 s. Route A then costs 50 + 120 = 170 vs B 50 + 65 = 115: saving 0.32,
    advised. On the current values (A = 120 vs 115, saving 0.04 < 0.1) dynamic_shortest
    leaves it."""
    belief = [100, 50, 70, 50, 65]
    history = [(t, np.array([100, 50, x, 50, 65], dtype=float))
               for t, x in ((0.0, 50.0), (60.0, 60.0), (120.0, 70.0))]
    v = view(network, belief, history=history)
    np.testing.assert_allclose(Predictive(lookahead_s=300).costs(v), [100, 50, 120, 50, 65])
    assert advised(Predictive(lookahead_s=300), view(network, belief, history=history)) == [
        ROUTE_B]
    assert advised(DynamicShortest(), view(network, belief, history=history)) == []


@pytest.mark.parametrize(("window_s", "expected"), [(60.0, 120.0), (120.0, 145.0)])
def test_predictive_trend_window_by_hand(network, window_s: float, expected: float) -> None:  # type: ignore[no-untyped-def]
    """Link 2 was 40, 60, 70 s at 0, 60, 120 s; now 120 s, 300 s ahead. Window 60 s: the
    points at 60 and 120 s (the oldest exactly 60 s old counts), slope 10 / 60, so
    70 + 50 = 120 s. Window 120 s: all three, least-squares slope
    (-60 x -16.67 + 0 + 60 x 13.33) / 7,200 = 0.25, so 70 + 75 = 145 s."""
    history = [(t, np.array([100, 50, x, 50, 65], dtype=float))
               for t, x in ((0.0, 40.0), (60.0, 60.0), (120.0, 70.0))]
    v = view(network, [100, 50, 70, 50, 65], history=history)
    cost = Predictive(lookahead_s=300, window_s=window_s).costs(v)
    assert cost[2] == pytest.approx(expected, rel=1e-9)
    # no lookahead: the current values
    np.testing.assert_allclose(Predictive(lookahead_s=0.0).costs(v), [100, 50, 70, 50, 65])


@pytest.mark.parametrize("make", [
    lambda: DynamicShortest(threshold=1.0), lambda: DynamicShortest(inertia=1.0),
    lambda: Probabilistic(share=0.0), lambda: Probabilistic(share=1.5),
    lambda: Predictive(lookahead_s=-1.0), lambda: Predictive(window_s=0.0)])
def test_policy_parameters_out_of_range_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    """threshold and inertia in [0, 1), share in (0, 1], lookahead >= 0, window > 0."""
    with pytest.raises(ValueError, match="must be"):
        make()


def test_policy_triggers_match_the_documentation() -> None:
    """When each built-in decides (README's policy table): periodic ones every control
    period and, by default, also when an edge confirms a hazard; at_departure when a
    connected vehicle departs; incident_detour only on a hazard, at the edge; oracle
    reads the truth. Defaults: threshold 0.1, share 0.3, lookahead 300 s."""
    table = {NoRerouting(): (False, False, False, False),
             AtDeparture(): (False, True, False, False),
             DynamicShortest(): (True, False, True, False),
             Probabilistic(): (True, False, True, False),
             Predictive(): (True, False, True, False),
             SystemOptimal(): (True, False, True, False),
             IncidentDetour(): (False, False, True, False),
             Oracle(): (True, False, True, True)}
    for policy, flags in table.items():
        assert (policy.periodic, policy.on_departure, policy.on_hazard,
                policy.uses_truth) == flags, policy.name
    assert getattr(IncidentDetour(), "edge_local", False) is True
    assert not getattr(DynamicShortest(), "edge_local", False)
    assert (DynamicShortest().threshold, Probabilistic().share,
            Predictive().lookahead_s) == (0.1, 0.3, 300.0)


def test_incident_detour_moves_only_vehicles_heading_through_the_hazard(network) -> None:  # type: ignore[no-untyped-def]
    """Hazard confirmed on link 2: a vehicle on route A gets B at once, even though the
    belief (free flow) sees no delay; a vehicle already on route B is left alone; with
    no hazard nobody is advised, nor when every route is blocked."""
    assert advised(IncidentDetour(), view(network, FREE, hazards=(2,))) == [ROUTE_B]
    assert advised(IncidentDetour(), view(network, FREE, hazards=(2,), remaining=ROUTE_B)) == []
    assert advised(IncidentDetour(), view(network, FREE)) == []
    # both routes blocked: no detour exists, so nobody is sent onto another blocked link
    assert advised(IncidentDetour(), view(network, FREE, hazards=(2, 4))) == []


def test_at_departure_gives_the_belief_shortest_path(network) -> None:  # type: ignore[no-untyped-def]
    """Any difference counts at departure (no threshold): A = 50 + 51 = 101 s against
    B = 100 s gives B; when A is shortest, nothing is sent."""
    assert advised(AtDeparture(), view(network, [100, 50, 51, 50, 50])) == [ROUTE_B]
    assert advised(AtDeparture(), view(network, [100, 50, 49, 50, 50])) == []


def test_compliance_between_the_extremes(tmp_path: Path) -> None:
    """Compliance 0.8: each delivered piece of advice is declined with probability 0.2.
    Greedy rerouting on the two-route network (everyone connected) delivers a few hundred
    pieces of advice; the declined share lies within 4 binomial standard errors of 0.2
    (measured on seed 1: 96 of 418)."""
    road = write_two_route_network(tmp_path)
    data = {
        "simulation": {"horizon_s": 1200, "seed": 1},
        "road": road,
        "demand": {"flows": [{"origin": 0, "destination": 4, "rate_vph": 2000}]},
        "vehicles": {"classes": {"car": {"share": 1.0, "connected_share": 1.0,
                                         "compliance": 0.8},
                                 "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
        "control": {"policy": "dynamic_shortest", "params": {"threshold": 0.0},
                    "period_s": 30},
        "edge": {"nodes": 1, "cores": 2},
        "roadside": {"sensors": []},
        "messages": {"bsm": {"enabled": False, "rate_hz": 10, "size_bytes": 300,
                             "deadline_s": 0.1}},
    }
    rerouting = build_world(scenario_from_dict(data, base_dir=tmp_path)).run().summary[
        "rerouting"]
    n = rerouting["delivered"]
    assert n >= 200
    share = rerouting["declined"] / n
    assert abs(share - 0.2) <= 4 * np.sqrt(0.2 * 0.8 / n), (share, n)
    assert rerouting["followed"] + rerouting["stale"] == n - rerouting["declined"]
