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
from test_rerouting import write_split_network, write_two_route_network

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
from v2x_sim.control.policies.incident_detour import interleave, largest_remainder
from v2x_sim.control.policies.probabilistic import logit_probabilities, path_size_factors
from v2x_sim.control.policy import PolicyView, VehiclesView
from v2x_sim.road.io import read_network_csv
from v2x_sim.road.network import Network, build_network
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


def band_99(n: int, p: float) -> float:
    """Half-width of the binomial 99 % band of a count: 2.576 sqrt(n p (1 - p))."""
    return 2.576 * float(np.sqrt(n * p * (1 - p)))


def test_probabilistic_split_follows_the_logit_formula(network) -> None:  # type: ignore[no-untyped-def]
    """Belief: route A 50 + 100 = 150 s, route B 50 + 50 = 100 s; theta 0.02 /s, k = 2.
    P(B) = 1 / (1 + exp(-0.02 x 50)) = 1 / (1 + e^-1) = 0.7311. Of 2,000 vehicles on
    route A, those drawing B are advised: expected 2,000 x 0.7311 = 1,462.2, standard
    deviation sqrt(2,000 x 0.7311 x 0.2689) = 19.83, 99 % band 2.576 x 19.83 = 51.1.
    Vehicles already on B are advised A at 2,000 x 0.2689 = 537.8 (same band)."""
    p_b = 1 / (1 + np.exp(-1.0))
    assert p_b == pytest.approx(0.7311, abs=1e-4)
    belief = [100, 50, 100, 50, 50]
    routes = advised(Probabilistic(k=2, theta=0.02), view(network, belief, n=2000))
    assert all(r == ROUTE_B for r in routes)
    assert band_99(2000, p_b) == pytest.approx(51.1, abs=0.1)
    assert abs(len(routes) - 1462.2) <= 51.1
    back = advised(Probabilistic(k=2, theta=0.02),
                   view(network, belief, n=2000, remaining=ROUTE_B, seed=1))
    assert all(r == ROUTE_A for r in back)
    assert abs(len(back) - 537.8) <= 51.1


def test_probabilistic_with_one_path_or_a_sharp_theta_is_shortest_path(network) -> None:  # type: ignore[no-untyped-def]
    """k = 1: the choice set is the shortest path, so every vehicle on A is advised B.
    theta 1 /s: P(A) = exp(-50) ~ 2e-22, nobody keeps A either."""
    belief = [100, 50, 100, 50, 50]
    for policy in (Probabilistic(k=1, theta=0.02), Probabilistic(k=3, theta=1.0)):
        assert advised(policy, view(network, belief, n=300)) == [ROUTE_B] * 300


def test_probabilistic_vehicle_keeps_its_draw_between_periods(network) -> None:  # type: ignore[no-untyped-def]
    """A vehicle draws once (its taste u) and its path is u read through the cumulative
    logit: deciding again on the same belief advises exactly the same vehicles. When
    route A's cost falls from 150 to 110 s, P(B) = 1 / (1 + exp(-0.02 x 10)) = 0.5498:
    exactly the vehicles with u < P(A) = 0.4502 (A comes first: [1, 2] < [3, 4]) stay on
    A, so the advised set shrinks to a subset of the first one."""
    policy = Probabilistic(k=2, theta=0.02)
    v = view(network, [100, 50, 100, 50, 50], n=500)
    first = policy.decide(v).vehicles.tolist()
    assert policy.decide(v).vehicles.tolist() == first
    later = policy.decide(view(network, [100, 50, 60, 50, 50], n=500)).vehicles.tolist()
    assert set(later) < set(first)
    taste = policy.tastes(v)
    expected = v.vehicles.ids[taste >= 1 - 1 / (1 + np.exp(-0.2))].tolist()
    assert later == expected


def test_probabilistic_is_deterministic_for_a_seed(network) -> None:  # type: ignore[no-untyped-def]
    """Draws come only from the policy's own generator: two fresh policies on views with
    the same seed advise the same vehicles; another seed advises another set (each of
    500 vehicles makes the same choice twice with probability 0.73^2 + 0.27^2 = 0.606,
    all of them with 0.606^500 ~ 1e-109)."""
    belief = [100, 50, 100, 50, 50]
    runs = [Probabilistic(k=2, theta=0.02).decide(view(network, belief, n=500, seed=seed))
            for seed in (7, 7, 8)]
    assert runs[0].vehicles.tolist() == runs[1].vehicles.tolist()
    assert runs[0].vehicles.tolist() != runs[2].vehicles.tolist()


def test_logit_and_path_size_by_hand_at_the_edges() -> None:
    """Costs 1,000 and 1,001 s at theta 1 /s: exp(-1,000) underflows, but the shares
    are those of a 1 s difference, 1 / (1 + e^-1) = 0.7311 and 0.2689. A path of zero
    cost shares its links equally: alone, PS = 1; two zero-cost paths sharing one of
    their two links: PS = 0.5 / 2 + 0.5 / 1 = 0.75 each."""
    np.testing.assert_allclose(logit_probabilities(np.array([1000.0, 1001.0]), 1.0),
                               [0.7310586, 0.2689414], rtol=1e-6)
    zero = np.zeros(3)
    np.testing.assert_allclose(path_size_factors([[0, 1]], zero), [1.0])
    np.testing.assert_allclose(path_size_factors([[0, 1], [0, 2]], zero), [0.75, 0.75])


def test_probabilistic_path_size_counts_overlapping_paths_as_one() -> None:
    """Red bus / blue bus: from node 0 to 2, a direct link (100 s) and two paths sharing
    their first link 0 -> 1 (90 s) and ending on parallel links 1 -> 2 (5 s each), 95 s.
    PS(direct) = 1; PS(shared) = (90 / 95) / 2 + (5 / 95) / 1 = 0.5263. theta 0.02:
    plain logit P(direct) = e^-2 / (e^-2 + 2 e^-1.9) = 0.1353 / 0.4345 = 0.3115;
    path size P(direct) = 0.1353 / (0.1353 + 2 x 0.5263 x 0.1496) = 0.1353 / 0.2928
    = 0.4622. Of 2,000 vehicles on the direct link, the advised (those leaving it) are
    2,000 x (1 - 0.4622) = 1,075.5 +- 2.576 sqrt(2,000 x 0.4622 x 0.5378) = +- 57.4."""
    net = build_network(x_m=[0, 500, 1000], y_m=[0, 300, 0], from_node=[0, 0, 1, 1],
                        to_node=[2, 1, 2, 2], length_m=[1000, 900, 50, 50],
                        lanes=[1] * 4, free_speed_mps=[10.0] * 4,
                        capacity_vps_per_lane=[0.5] * 4, jam_density_vpm_per_lane=[0.14] * 4,
                        road_class=[0] * 4)
    cost = np.array([100.0, 90.0, 5.0, 5.0])
    np.testing.assert_allclose(path_size_factors([[0], [1, 2], [1, 3]], cost),
                               [1.0, 90 / 190 + 5 / 95, 90 / 190 + 5 / 95])
    n = 2000
    state = LinkState(cost, np.zeros(4), cost.copy())
    vehicles = VehiclesView(ids=np.arange(n), link=np.zeros(n, np.int64),
                            next_node=np.zeros(n, np.int64), destination=np.full(n, 2),
                            remaining=[[0] for _ in range(n)])
    counts = {}
    for path_size in (False, True):
        v = PolicyView(now_s=0.0, network=net, belief=state, history=[], vehicles=vehicles,
                       rng=np.random.default_rng(3))
        routes = Probabilistic(k=3, theta=0.02, path_size=path_size).decide(v).routes
        assert {tuple(r) for r in routes} == {(1, 2), (1, 3)}
        counts[path_size] = len(routes)
    assert abs(counts[True] - 1075.5) <= 57.4
    assert abs(counts[False] - 2000 * (1 - 0.3115)) <= band_99(2000, 0.3115)


def test_system_optimal_routes_on_marginal_cost(network) -> None:  # type: ignore[no-untyped-def]
    """Belief A = [50, 60], B = [50, 58], all free flow 50. Own travel time: 110 vs 108,
    saving 0.018 < 0.05: dynamic_shortest leaves it. Point-queue marginal cost (default)
    t0 + 2 (t - t0): A = 50 + 50 + 2 x 10 = 120, B = 50 + 50 + 2 x 8 = 116, saving 0.033,
    still left alone at 0.05 but advised at 0.03. BPR's t0 + 5 (t - t0): A = 50 + 50 +
    5 x 10 = 150, B = 50 + 50 + 5 x 8 = 140, saving 0.067: advised B at 0.05."""
    belief = [100, 50, 60, 50, 58]
    v = view(network, belief)
    np.testing.assert_allclose(SystemOptimal().costs(v), [100, 50, 70, 50, 66])
    np.testing.assert_allclose(SystemOptimal(marginal="bpr").costs(v), [100, 50, 100, 50, 90])
    assert advised(SystemOptimal(threshold=0.05), view(network, belief)) == []
    assert advised(SystemOptimal(threshold=0.03), view(network, belief)) == [ROUTE_B]
    assert advised(SystemOptimal(marginal="bpr", threshold=0.05),
                   view(network, belief)) == [ROUTE_B]
    assert advised(DynamicShortest(threshold=0.05), view(network, belief)) == []


def test_system_optimal_reaches_pigous_optimum_and_beats_selfish_routing(
        tmp_path: Path) -> None:
    """Pigou's network with a point queue: approach 0 -> 1 (2 km, 100 s, three lanes),
    route A 1 -> 2 -> 4 (2 x 1 km, 100 s; its second link one lane of 1,200 veh/h),
    route B 1 -> 3 -> 4 (2 x 3 km, two lanes of 1,800 veh/h, 300 s and never
    congested). 2,000 veh/h, all connected and compliant, control every 30 s,
    threshold 0.1 and inertia 0.5 for both.

    System optimum: A carries exactly its capacity (more only queues; less sends vehicles
    to a route 200 s slower), so after the 600 s warm-up 1,200 x 3,000 / 3,600 = 1,000
    vehicles take A and the rest of those reaching the split take B; its split is
    1,000 / (A + B entries) (0.6 at the nominal 1,667 arrivals). Selfish routing lets A's
    queue w grow until A's own time beats the threshold: (100 + w - 300) / (100 + w) >
    0.1, w > 233 s. Marginal cost 100 + 2w diverts at (2w - 200) / (100 + 2w) > 0.1,
    w > 117 s: A's trip 217 s instead of 333 s. The split is the same (A at capacity);
    the queue is the saving, about 1,000 x 116 s = 32 veh-h of ~170 (19 %).
    Measured (seeds 1-4, a two-lane approach before lane groups): split within 0.9 %,
    0.9 %, 1.2 %, 3.4 % of the optimum; 142.6, 142.6, 144.6, 154.7 veh-h against
    167.1, 170.3, 172.6, 179.4 (14-16 % less); A's mean
    trip 203 s for system_optimal (seed 1, second half)."""
    # three approach lanes: B's left turn gets one, A (straight on) two, so A's turn
    # capacity (3,600 veh/h) never binds and the split is the policies' alone
    road = write_split_network(tmp_path, route_b=(3000, 2, 1800), midpoint_a_y_m=0,
                               midpoint_b_y_m=2700, approach_lanes=3)
    everyone = {"connected_share": 1.0, "compliance": 1.0}
    hours, split, optimum, route_a_s = {}, {}, {}, {}
    for policy in ("system_optimal", "dynamic_shortest"):
        data = {
            "simulation": {"horizon_s": 3600, "warmup_s": 600, "seed": 1},
            "road": road,
            "demand": {"flows": [{"origin": 0, "destination": 4, "rate_vph": 2000}]},
            "vehicles": {"classes": {"car": {"share": 1.0, **everyone},
                                     "truck": {"share": 0.0, **everyone},
                                     "delivery": {"share": 0.0, **everyone}}},
            "control": {"policy": policy, "params": {"threshold": 0.1, "inertia": 0.5},
                        "period_s": 30},
            "edge": {"nodes": 1, "cores": 2},
            # the policies' split alone: warned drivers' local detours off A's queue tail
            # would move it too (the fast loop, test_warnings.py)
            "v2x": {"warning_reaction": False},
        }
        world = build_world(scenario_from_dict(data, base_dir=tmp_path))
        result = world.run()
        links = result.links
        late = links["t_start_s"] >= 600
        a = float(links["entered"][late & (links["link"] == "1")].sum())
        b = float(links["entered"][late & (links["link"] == "3")].sum())
        hours[policy] = result.summary["vehicle_hours"]
        split[policy], optimum[policy] = a / (a + b), 1000.0 / (a + b)
        log = world.traversals.to_numpy()
        entered = dict(zip(log["vehicle"][log["link"] == 1].tolist(),
                           log["t_in"][log["link"] == 1].tolist(), strict=True))
        trips = [t - entered[v] for v, t in zip(log["vehicle"][log["link"] == 2].tolist(),
                                                log["t_out"][log["link"] == 2].tolist(),
                                                strict=True)
                 if entered.get(v, 0.0) >= 1800.0]
        route_a_s[policy] = float(np.mean(trips))
    print(hours, split, optimum, route_a_s)
    assert abs(split["system_optimal"] - optimum["system_optimal"]) <= (
        0.05 * optimum["system_optimal"])
    assert hours["system_optimal"] <= 0.9 * hours["dynamic_shortest"]
    # the queue each rule tolerates: at most 217 s on A (10 % slack for the lag), and
    # clearly less than selfish routing's
    assert route_a_s["system_optimal"] <= 1.1 * 217
    assert route_a_s["system_optimal"] + 50 < route_a_s["dynamic_shortest"]


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
    lambda: Probabilistic(k=0), lambda: Probabilistic(theta=0.0),
    lambda: Probabilistic(theta=float("inf")), lambda: Probabilistic(k=2.5),
    lambda: Predictive(lookahead_s=-1.0), lambda: Predictive(window_s=0.0),
    lambda: SystemOptimal(marginal="mm1"), lambda: IncidentDetour(k=0),
    lambda: IncidentDetour(spread=-0.1)])
def test_policy_parameters_out_of_range_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    """threshold and inertia in [0, 1), k an integer >= 1, theta finite > 0,
    lookahead >= 0, window > 0, marginal queue or bpr,
    spread >= 0."""
    with pytest.raises(ValueError, match="must be"):
        make()


def test_policy_triggers_match_the_documentation() -> None:
    """When each built-in decides (README's policy table): periodic ones every control
    period and, by default, also when an edge confirms a hazard; at_departure when a
    connected vehicle departs; incident_detour only on a hazard, at the edge; oracle
    reads the truth. Defaults: threshold 0.1, k 3, theta 0.05 /s, lookahead 300 s."""
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
    assert (DynamicShortest().threshold, Probabilistic().k, Probabilistic().theta,
            Probabilistic().path_size, Predictive().lookahead_s) == (0.1, 3, 0.05, False,
                                                                    300.0)


def test_incident_detour_moves_only_vehicles_heading_through_the_hazard(network) -> None:  # type: ignore[no-untyped-def]
    """Hazard confirmed on link 2: a vehicle on route A gets B at once, even though the
    belief (free flow) sees no delay; a vehicle already on route B is left alone; with
    no hazard nobody is advised, nor when every route is blocked."""
    assert advised(IncidentDetour(), view(network, FREE, hazards=(2,))) == [ROUTE_B]
    assert advised(IncidentDetour(), view(network, FREE, hazards=(2,), remaining=ROUTE_B)) == []
    assert advised(IncidentDetour(), view(network, FREE)) == []
    # both routes blocked: no detour exists, so nobody is sent onto another blocked link
    assert advised(IncidentDetour(), view(network, FREE, hazards=(2, 4))) == []


def four_route_network() -> Network:
    """Approach 0 -> 1 (link 0), then four routes to node 5: A = links 1, 2 (via node 2),
    B = 3, 4 (via 3; link 4 one lane), C = 5, 6 (via 4), D = 7, 8 (via 6). Two lanes of
    1,800 veh/h (0.5 veh/s) everywhere else, so B's bottleneck carries 0.5 veh/s and
    C's and D's 1.0."""
    lanes = [2, 2, 2, 2, 1, 2, 2, 2, 2]
    return build_network(x_m=[0, 1000, 2000, 2000, 2000, 3000, 2000],
                         y_m=[0, 0, 600, 200, -200, 0, -600],
                         from_node=[0, 1, 2, 1, 3, 1, 4, 1, 6],
                         to_node=[1, 2, 5, 3, 5, 4, 5, 6, 5], length_m=[1000.0] * 9,
                         lanes=lanes, free_speed_mps=[20.0] * 9,
                         capacity_vps_per_lane=[0.5] * 9,
                         jam_density_vpm_per_lane=[0.14] * 9, road_class=[0] * 9)


def detour_view(net: Network, n: int, *, hazards: tuple[int, ...] = (2,)) -> PolicyView:
    """``n`` vehicles on the approach bound for node 5 on route A. Belief: A 100 s,
    B 100 s, C 110 s, D 200 s after the approach."""
    belief = np.array([50.0, 50, 50, 50, 50, 55, 55, 100, 100])
    state = LinkState(belief, np.zeros(9), np.full(9, 50.0))
    vehicles = VehiclesView(ids=np.arange(n), link=np.zeros(n, np.int64),
                            next_node=np.ones(n, np.int64), destination=np.full(n, 5),
                            remaining=[[1, 2] for _ in range(n)])
    return PolicyView(now_s=0.0, network=net, belief=state, history=[], vehicles=vehicles,
                      rng=np.random.default_rng(0), hazard_links=hazards)


def test_incident_detour_spreads_vehicles_over_the_best_alternatives() -> None:
    """Hazard on link 2 (route A). Alternatives by belief: B 100 s, C 110 s, D 200 s.
    spread 0.25: up to 1.25 x 100 = 125 s, so B and C, not D. Shares by bottleneck
    capacity: B 0.5 veh/s, C 1.0: 1/3 and 2/3, so 30 vehicles -> 10 on B, 20 on C,
    interleaved (smooth round robin: C, B, C, C, B, C, ...; the first three hold one
    B). 31 vehicles: 10.33 and 20.67, largest remainder -> 10 and 21. k = 1: all 30 on
    B; spread 1.0 (up to 200 s): D joins with capacity 1.0, shares 1/5, 2/5, 2/5 of 30
    = 6, 12, 12."""
    net = four_route_network()
    routes = advised(IncidentDetour(), detour_view(net, 30))
    assert len(routes) == 30
    assert (routes.count([3, 4]), routes.count([5, 6])) == (10, 20)
    assert routes[:3].count([3, 4]) == 1
    routes = advised(IncidentDetour(), detour_view(net, 31))
    assert (routes.count([3, 4]), routes.count([5, 6])) == (10, 21)
    assert advised(IncidentDetour(k=1), detour_view(net, 30)) == [[3, 4]] * 30
    routes = advised(IncidentDetour(spread=1.0), detour_view(net, 30))
    assert [routes.count(r) for r in ([3, 4], [5, 6], [7, 8])] == [6, 12, 12]
    # a hazard on B as well: C and D remain, D at 200 s is beyond 1.25 x 110 = 137.5 s
    assert advised(IncidentDetour(), detour_view(net, 4, hazards=(2, 4))) == [[5, 6]] * 4


def test_incident_detour_shares_and_edge_cases_by_hand() -> None:
    """The detours from node 1 with the hazard on link 2: B and C with shares 1/3 and
    2/3 (bottlenecks 0.5 and 1.0 veh/s). spread 0 keeps only the cheapest (B). With
    every way round blocked (links 2, 4, 6, 8): no detour and no share."""
    net = four_route_network()
    v = detour_view(net, 3)
    cost = v.belief.travel_time_s.copy()
    cost[2] = 1e6
    paths, share = IncidentDetour().detours(v, v.routes(cost), 1, 5)
    assert paths == [[3, 4], [5, 6]]
    np.testing.assert_allclose(share, [1 / 3, 2 / 3])
    assert advised(IncidentDetour(spread=0.0), detour_view(net, 3)) == [[3, 4]] * 3
    blocked = detour_view(net, 3, hazards=(2, 4, 6, 8))
    cost = blocked.belief.travel_time_s.copy()
    cost[[2, 4, 6, 8]] = 1e6
    paths, share = IncidentDetour().detours(blocked, blocked.routes(cost), 1, 5)
    assert paths == []
    assert share.size == 0


def test_largest_remainder_and_interleave_by_hand() -> None:
    """7 in proportion 1 : 2 : 4 = 1, 2, 4 exactly; 10 in 1 : 1 : 1 = 3.33 each, the one
    left over to the first (stable order): 4, 3, 3. Round robin of counts 1, 2: 1, 0, 1."""
    assert largest_remainder(7, np.array([1.0, 2.0, 4.0])).tolist() == [1, 2, 4]
    assert largest_remainder(10, np.ones(3)).tolist() == [4, 3, 3]
    assert interleave(np.array([1, 2])) == [1, 0, 1]
    assert sorted(interleave(np.array([3, 1, 2]))) == [0, 0, 0, 1, 2, 2]


def test_at_departure_gives_the_belief_shortest_path(network) -> None:  # type: ignore[no-untyped-def]
    """Any difference counts at departure (no threshold): A = 50 + 51 = 101 s against
    B = 100 s gives B; when A is shortest, nothing is sent."""
    assert advised(AtDeparture(), view(network, [100, 50, 51, 50, 50])) == [ROUTE_B]
    assert advised(AtDeparture(), view(network, [100, 50, 49, 50, 50])) == []


def test_predictive_keeps_vehicles_on_a_clearing_route(network) -> None:  # type: ignore[no-untyped-def]
    """The converse of a building queue: link 2 was 90, 80, 70 s at 0, 60, 120 s (slope
    -1/6 s per s). Now route A = 50 + 70 = 120 s vs B = 100 s: dynamic_shortest's saving
    20 / 120 = 0.17 > 0.1 moves the vehicle. 300 s ahead link 2 is 70 - 50 = 20 s, never
    below free flow: 50 s, so A = 100 s = B: predictive leaves it on A."""
    belief = [100, 50, 70, 50, 50]
    history = [(t, np.array([100, 50, x, 50, 50], dtype=float))
               for t, x in ((0.0, 90.0), (60.0, 80.0), (120.0, 70.0))]
    v = view(network, belief, history=history)
    np.testing.assert_allclose(Predictive(lookahead_s=300).costs(v), [100, 50, 50, 50, 50])
    assert advised(Predictive(lookahead_s=300), view(network, belief, history=history)) == []
    assert advised(DynamicShortest(), view(network, belief, history=history)) == [ROUTE_B]


def test_at_departure_routes_every_connected_compliant_departure_around_a_slow_route(
        tmp_path: Path) -> None:
    """End to end on the two-route network: a 12 km/h speed cap on link 2 for the whole
    hour makes route A 50 + 1,000 / 3.33 = 350 s against B's 100 s; 600 veh/h (no queue
    on either route), half the cars connected, compliance 0.8, departure routing on free
    flow (ties go to A), so only at_departure's answers send anyone to B. Once the belief
    knows link 2 (sensors watch it: seconds), every connected departure is answered B,
    and 0.8 of them follow: after the 600 s warm-up the share entering B is
    0.5 x 0.8 = 0.4. With n vehicles reaching the split (~500), the 99 % band is
    2.576 sqrt(0.4 x 0.6 / n) (0.056 at n = 500). Measured on seed 1: 191 of 476
    (0.401). Under ``none`` nobody takes B."""
    road = write_two_route_network(tmp_path)
    cars = {"connected_share": 0.5, "compliance": 0.8}
    shares = {}
    for policy in ("at_departure", "none"):
        data = {
            "simulation": {"horizon_s": 3600, "warmup_s": 600, "seed": 1},
            "road": road,
            "demand": {"flows": [{"origin": 0, "destination": 4, "rate_vph": 600}]},
            "incidents": [{"link": 2, "start_s": 0, "end_s": 3600, "lanes_closed": 0,
                           "speed_cap_kmh": 12}],
            "vehicles": {"classes": {"car": {"share": 1.0, **cars},
                                     "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
            "control": {"policy": policy, "period_s": 60},
            "edge": {"nodes": 1, "cores": 2},
        }
        result = build_world(scenario_from_dict(data, base_dir=tmp_path)).run()
        links = result.links
        late = links["t_start_s"] >= 600
        a = float(links["entered"][late & (links["link"] == "1")].sum())
        b = float(links["entered"][late & (links["link"] == "3")].sum())
        shares[policy] = (b / (a + b), a + b)
    share, n = shares["at_departure"]
    assert n >= 400
    assert abs(share - 0.4) <= 2.576 * np.sqrt(0.4 * 0.6 / n), shares
    assert shares["none"][0] == 0.0


def test_compliance_between_the_extremes(tmp_path: Path) -> None:
    """Compliance 0.8 with ``compliance_model: advice``: each delivered piece of advice is
    declined with probability 0.2 (the driver model: test_metrics_compliance.py).
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
                    "period_s": 30, "compliance_model": "advice"},
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
