"""Formulas pinned to numbers worked out by hand, never by the function under test.

Each expected value carries its arithmetic in a comment. Defaults used below: the test
line network (conftest) has 20 m/s, 1,800 veh/h/lane = 0.5 veh/s, 140 veh/km = 0.14
veh/m per lane; the urban arterial default is 50 km/h = 13.889 m/s with the same
capacity and jam density; PC5 defaults are a 290 m median range, 40 m spread, 0.5 ms
air time, 2 ms access delay and 50 % collision loss at full load.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from v2x_sim.comms import Pc5Channel
from v2x_sim.comms.flows import group_by, offsets_on_link, send_times
from v2x_sim.compute.cloud import Belief
from v2x_sim.compute.service import second_moment_s2
from v2x_sim.metrics.histogram import LogHistogram
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.metrics.trip_stats import trip_summary
from v2x_sim.road.fundamental_diagram import (
    capped_capacity,
    critical_density,
    greenshields_speed,
    triangular_speed,
    wave_speed,
)
from v2x_sim.road.generators import grid
from v2x_sim.road.signals import fixed_time_plan
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.scenario.road_sections import GridParams
from v2x_sim.scenario.signal_sections import SignalSection
from v2x_sim.scenario.v2x_sections import Pc5Params, ServiceDistribution, ServiceParams
from v2x_sim.slow_loop import build_feeds
from v2x_sim.world import build_world

VF, Q, KJ = 20.0, 0.5, 0.14  # line-network link: m/s, veh/s/lane, veh/m/lane


# ---------------------------------------------------------------- fundamental diagram
def test_wave_speed_by_hand() -> None:
    """w = q / (k_j - q / v_f): 0.5 / (0.14 - 0.025) = 4.3478 m/s on the line network;
    urban default 0.5 / (0.14 - 0.5 / 13.889) = 0.5 / 0.104 = 4.8077 m/s = 17.3 km/h."""
    assert wave_speed(VF, Q, KJ) == pytest.approx(4.347826, rel=1e-6)
    assert wave_speed(50 / 3.6, Q, KJ) * 3.6 == pytest.approx(17.3077, rel=1e-5)


def test_capped_capacity_at_10_kmh_by_hand() -> None:
    """Triangular, 10 km/h cap, line defaults: v_c = 2.7778 m/s, w = 4.3478 m/s;
    q = v_c w k_j / (v_c + w) = 2.7778 x 4.3478 x 0.14 / 7.1256 = 0.23729 veh/s
    = 854.2 veh/h per lane. Urban default (v_f 13.889, w 4.8077):
    2.7778 x 4.8077 x 0.14 / 7.5855 = 0.24648 veh/s = 887.3 veh/h."""
    vc = 10 / 3.6
    line = capped_capacity("triangular", vc, VF, Q, KJ, 0.5 / (0.14 - 0.025))
    assert line * 3600 == pytest.approx(854.2, abs=0.05)
    urban = capped_capacity("triangular", vc, 50 / 3.6, Q, KJ, 0.5 / 0.104)
    assert urban * 3600 == pytest.approx(887.3, abs=0.05)


def test_capped_capacity_greenshields_and_no_cap_by_hand() -> None:
    """Greenshields below the critical speed v_f / 2 = 10 m/s: q = v_c k_j (1 - v_c / v_f)
    = 2.7778 x 0.14 x (1 - 0.13889) = 0.33488 veh/s = 1,205.6 veh/h; at 12 m/s (above
    critical speed) and for caps at or above free speed: the full 0.5 veh/s."""
    vc = 10 / 3.6
    assert capped_capacity("greenshields", vc, VF, Q, KJ, 4.3478) * 3600 == pytest.approx(
        1205.6, abs=0.05)
    assert capped_capacity("greenshields", 12.0, VF, Q, KJ, 4.3478) == Q
    assert capped_capacity("triangular", VF, VF, Q, KJ, 4.3478) == Q
    assert capped_capacity("triangular", 30.0, VF, Q, KJ, 4.3478) == Q


def test_critical_density_and_speeds_by_hand() -> None:
    """k_c = q / v_f = 0.025 veh/m (triangular), k_j / 2 = 0.07 (Greenshields).
    Greenshields at a quarter of jam density: 20 x (1 - 0.25) = 15 m/s; at jam density
    the 0.5 m/s floor. Triangular below critical: v_f whatever the density."""
    assert critical_density("triangular", VF, Q, KJ) == pytest.approx(0.025, rel=1e-12)
    assert critical_density("greenshields", VF, Q, KJ) == pytest.approx(0.07, rel=1e-12)
    assert greenshields_speed(0.035, VF, Q, KJ, 4.3478) == pytest.approx(15.0, rel=1e-12)
    assert greenshields_speed(0.14, VF, Q, KJ, 4.3478) == 0.5
    for density in (0.0, 0.01, 0.025):
        assert triangular_speed(density, VF, Q, KJ, 4.3478) == VF


# ---------------------------------------------------------------- PC5, service
PC5 = Pc5Channel.from_params(Pc5Params())


def test_pc5_delivery_probability_at_250_m_and_cbr_0_6() -> None:
    """r(250) = 1 / (1 + e^((250 - 290) / 40)) = 1 / (1 + e^-1) = 0.73106; collisions
    1 - 0.5 x 0.6 = 0.7; product 0.51174."""
    assert PC5.delivery_probability(250.0, 0.6) == pytest.approx(0.51174, abs=5e-6)
    # at 100 m: 1 / (1 + e^-4.75) = 0.991423; x (1 - 0.5 x 0.3) = 0.842710
    assert PC5.delivery_probability(100.0, 0.3) == pytest.approx(0.842710, abs=5e-6)
    # idle channel at the median range: exactly one half
    assert PC5.delivery_probability(290.0, 0.0) == 0.5


def test_pc5_cbr_and_delay_by_hand() -> None:
    """CBR = N x 10 Hz x 0.5 ms: 60 transmitters -> 0.3; mean delay 0.5 ms + 2 ms / 0.7
    = 3.3571 ms."""
    assert float(PC5.channel_busy_ratio(60, 10.0)) == pytest.approx(0.3, rel=1e-12)
    assert float(PC5.mean_delay_s(0.3)) == pytest.approx(0.0033571, abs=5e-8)


def test_second_moments_by_hand() -> None:
    """E[S^2] for mean 2 ms: deterministic 4e-6 s^2; exponential 2 x 4e-6 = 8e-6;
    lognormal with cv 0.5: 4e-6 x (1 + 0.25) = 5e-6; cv 2: 4e-6 x 5 = 2e-5."""
    det = ServiceParams(mean_s=0.002)
    exp = ServiceParams(mean_s=0.002, distribution=ServiceDistribution.EXPONENTIAL)
    log_half = ServiceParams(mean_s=0.002, distribution=ServiceDistribution.LOGNORMAL, cv=0.5)
    log_two = ServiceParams(mean_s=0.002, distribution=ServiceDistribution.LOGNORMAL, cv=2.0)
    assert second_moment_s2(det) == pytest.approx(4e-6, rel=1e-12)
    assert second_moment_s2(exp) == pytest.approx(8e-6, rel=1e-12)
    assert second_moment_s2(log_half) == pytest.approx(5e-6, rel=1e-12)
    assert second_moment_s2(log_two) == pytest.approx(2e-5, rel=1e-12)


# ---------------------------------------------------------------- the cloud's belief
def belief(*, weight: float, to_free_flow: bool) -> Belief:
    return Belief(np.array([100.0, 50.0]), weight=weight, stale_after_s=300.0,
                  stale_to_free_flow=to_free_flow)


def test_belief_smoothing_with_weight_0_3_by_hand() -> None:
    """Samples 200 s (received at 5 s) then 150 s (received at 8 s) on link 0, weight 0.3:
    the first replaces the prior (200), the second smooths: 0.7 x 200 + 0.3 x 150 = 185;
    a third of 100 s: 0.7 x 185 + 0.3 x 100 = 159.5. Nothing counts before it is received.
    Link 1 never gets a sample: it keeps the free-flow prior 50 s."""
    b = belief(weight=0.3, to_free_flow=False)
    # ingested out of order: applied in the order the cloud received them
    b.ingest(np.array([8.0, 5.0]), np.array([0, 0]), np.array([150.0, 200.0]),
             np.array([7.0, 4.0]))
    assert b.state(4.9).travel_time_s.tolist() == [100.0, 50.0]
    assert b.state(6.0).travel_time_s.tolist() == [200.0, 50.0]
    state = b.state(9.0)
    assert state.travel_time_s[0] == pytest.approx(185.0, rel=1e-12)
    assert state.measured_s[0] == 7.0
    b.ingest(np.array([20.0]), np.array([0]), np.array([100.0]), np.array([19.0]))
    assert b.state(20.0).travel_time_s[0] == pytest.approx(159.5, rel=1e-12)
    assert b.samples == 3


@pytest.mark.parametrize(("to_free_flow", "stale_value"), [(True, 100.0), (False, 185.0)])
def test_belief_stale_modes_by_hand(to_free_flow: bool, stale_value: float) -> None:
    """Measured at 7 s, stale after 300 s: at 306 s (age 299) the estimate is still 185;
    at 308 s (age 301) it falls back to free flow (100 s) with ``free_flow``, and stays
    185 with ``last``."""
    b = belief(weight=0.3, to_free_flow=to_free_flow)
    b.ingest(np.array([5.0, 8.0]), np.array([0, 0]), np.array([200.0, 150.0]),
             np.array([4.0, 7.0]))
    assert b.state(306.0).travel_time_s[0] == pytest.approx(185.0, rel=1e-12)
    assert b.state(308.0).travel_time_s[0] == pytest.approx(stale_value, rel=1e-12)


@pytest.mark.parametrize(("fallback", "stale_value"), [("free_flow", 100.0), ("last", 185.0)])
def test_scenario_stale_fallback_reaches_the_belief(fallback: str, stale_value: float) -> None:
    """control.belief.stale_fallback as written in a scenario decides what a stale link
    shows: a link measured at 7 s with 185 s shows free flow (its L / v_f) or 185 s at
    age 301 s (stale_after_s 300)."""
    world = build_world(scenario_from_dict({
        "simulation": {"horizon_s": 60},
        "road": {"generator": "grid", "grid": {"rows": 2, "cols": 2, "spacing_m": 500}},
        "control": {"belief": {"weight": 0.3, "stale_fallback": fallback}}}))
    feeds = build_feeds(world.scenario, world.network, world.fleet, world.traffic)
    b = feeds.belief
    b.ingest(np.array([5.0, 8.0]), np.array([0, 0]), np.array([200.0, 150.0]),
             np.array([4.0, 7.0]))
    free = 500 / (50 / 3.6)  # 36 s
    expected = free if fallback == "free_flow" else stale_value
    assert b.state(308.0).travel_time_s[0] == pytest.approx(expected, rel=1e-12)
    assert b.state(9.0).travel_time_s[0] == pytest.approx(185.0, rel=1e-12)


# ---------------------------------------------------------------- signals
def test_signal_plan_by_hand() -> None:
    """3x3 grid, cycle 90 s, lost time 10 s: the centre node's four approaches are
    signalised; east-west green from 0 for (90 - 10) / 2 = 40 s, north-south green from
    90 / 2 = 45 s for 40 s (so 5 s of lost time after each phase)."""
    network = grid(GridParams(rows=3, cols=3, spacing_m=500))
    plan = fixed_time_plan(network, SignalSection(cycle_s=90, lost_time_s=10))
    incoming = network.incoming(4)
    assert len(incoming) == 4
    for link in incoming.tolist():
        dx = network.x_m[4] - network.x_m[network.from_node[link]]
        east_west = abs(dx) > 0
        assert plan.cycle_s[link] == 90.0
        assert plan.green_s[link] == 40.0
        assert plan.green_start_s[link] == (0.0 if east_west else 45.0)


def signal_trip(origin: int, destination: int, depart_s: float) -> float:
    """Arrival time of one car on a 3x3 grid (500 m, 50 km/h: 36 s a link), cycle 100 s,
    lost time 10 s: east-west green [0, 45), north-south green [50, 95)."""
    result = build_world(scenario_from_dict({
        "simulation": {"horizon_s": 600, "deterministic": True},
        "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 500},
                 "signals": {"cycle_s": 100, "lost_time_s": 10}},
        "demand": {"trips": [{"depart_s": depart_s, "origin": origin,
                              "destination": destination}]},
        "v2x": {"enabled": False}})).run()
    return float(result.trips["arrive_s"][0])


def test_north_south_green_starts_at_half_the_cycle() -> None:
    """North-south car 1 -> 4 -> 7 departing at 0: at the stop line of node 4 at 36 s,
    red until 50 s (half the cycle), then 36 s more: arrives at 86 s (node 7's
    north-south green [50, 95) is on at 86 s)."""
    assert signal_trip(1, 7, 0.0) == pytest.approx(50.0 + 36.0, rel=1e-12)


def test_lost_time_shortens_the_green() -> None:
    """East-west car 3 -> 4 -> 5 departing at 10 s: at node 4 at 46 s, just after the
    east-west green ended at 45 s (not 50 s: 10 s lost time), so it waits for the next
    cycle at 100 s and arrives at 136 s (node 5's east-west green: phase 36 < 45)."""
    assert signal_trip(3, 5, 10.0) == pytest.approx(100.0 + 36.0, rel=1e-12)


# ---------------------------------------------------------------- warm-up
def test_warm_up_trips_are_left_out_of_the_statistics(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """360 veh/h evenly spaced (departures at 5, 15, ..., 595 s), 2 x 1 km at 20 m/s =
    100 s each, horizon 600 s, warm-up 300 s. Counted: departures in [300, 600), 30 trips
    (305 ... 595 s); completed: those departing by 495 s, 20; on the road: 10.
    Vehicle-hours (time in system to 600 s): 20 x 100 s + (95 + 85 + ... + 5) s = 2,000
    + 500 = 2,500 s = 0.69444 h. Vehicle-km count completed links: 20 x 2 km, plus 1 km
    for each of the 5 trips departing 505 ... 545 s (past their first link by 600 s): 45."""
    scenario = line_scenario(
        [{}, {}], simulation={"horizon_s": 600, "warmup_s": 300, "deterministic": True},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 360,
                           "vehicle_class": "car"}]}, v2x={"enabled": False})
    result = build_world(scenario).run()
    summary = result.summary
    assert len(result.trips["id"]) == 60
    assert summary["trips_started"] == 30
    assert summary["trips_completed"] == 20
    assert summary["trips_on_road"] == 10
    assert summary["vehicle_hours"] == pytest.approx(2500 / 3600, rel=1e-9)
    assert summary["vehicle_km"] == pytest.approx(45.0, rel=1e-9)
    assert summary["travel_time_mean_s"] == pytest.approx(100.0, rel=1e-9)
    assert summary["by_class"]["car"]["trips_started"] == 30


def test_trip_summary_window_by_hand() -> None:
    """Four trips departing at 0, 100, 250, 390 s; window [200, 400): trips 3 and 4
    count. Trip 3 arrives at 310 s (travel 60 s, 50 s free flow, 4 s dwelling at a stop:
    delay 60 - 50 - 4 = 6 s); trip 4 is still on the road at 400 s (10 s in the system).
    Vehicle-hours (60 + 10) / 3600; throughput 1 trip / (200 / 3600 h) = 18 veh/h."""
    nan = math.nan
    out = trip_summary(
        depart_s=np.array([0.0, 100.0, 250.0, 390.0]),
        arrive_s=np.array([50.0, 160.0, 310.0, nan]),
        free_flow_s=np.array([50.0, 50.0, 50.0, 50.0]),
        shortest_s=np.array([50.0, 50.0, 50.0, 50.0]),
        dwell_s=np.array([0.0, 0.0, 4.0, 0.0]),
        distance_m=np.array([1000.0, 1000.0, 1500.0, 400.0]),
        moved_on=np.array([0, 1, 0, 2]), window_s=(200.0, 400.0))
    assert out["trips_started"] == 2
    assert out["trips_completed"] == 1
    assert out["trips_on_road"] == 1
    assert out["travel_time_mean_s"] == pytest.approx(60.0)
    assert out["delay_mean_s"] == pytest.approx(6.0)
    assert out["vehicle_hours"] == pytest.approx(70.0 / 3600.0)
    assert out["vehicle_km"] == pytest.approx(1.9)
    assert out["throughput_vph"] == pytest.approx(18.0)
    assert out["moved_on"] == 2


# ---------------------------------------------------------------- periodic flows
def test_send_times_by_hand() -> None:
    """Period 0.1 s, window [10, 10.3): sender 0 has phase 0 (sends at 10.0, 10.1, 10.2),
    sender 1 phase frac(0.618034) x 0.1 = 0.0618 s (10.0618, 10.1618, 10.2618)."""
    who, at = send_times(np.array([0, 1]), 0.1, 10.0, 10.3)
    assert who.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(at, [10.0, 10.1, 10.2, 10.0618034, 10.1618034, 10.2618034],
                               atol=1e-9)


@pytest.mark.parametrize("tick_s", [0.1, 0.2, 0.3, 0.5, 1.0])
def test_send_times_over_consecutive_windows_count_each_send_once(tick_s: float) -> None:
    """50 senders at 10 Hz over 1,000 windows of ``tick_s``: exactly 50 x 10 x 1,000 x
    tick_s sends, each sender's times 0.1 s apart with none repeated or skipped (window
    ends such as 0.3 k are not exact in binary: rounding must not count a boundary send
    in both windows, or in neither)."""
    ids = np.arange(50)
    parts = [send_times(ids, 0.1, k * tick_s, (k + 1) * tick_s) for k in range(1000)]
    who = np.concatenate([w for w, _ in parts])
    at = np.concatenate([a for _, a in parts])
    assert at.size == round(50 * 10 * 1000 * tick_s)
    for sender in (0, 1, 49):
        gaps = np.diff(np.sort(at[who == sender]))
        np.testing.assert_allclose(gaps, 0.1, atol=1e-9)


def test_offsets_on_link_by_hand() -> None:
    """Entered at 10 s, earliest exit at 30 s, 400 m: at 15 s a quarter of the way
    (100 m); before entry 0; past the earliest exit it stands at the end (400 m); a
    vehicle with no travel time is at the end; one crossing in 0.5 s is half way at
    0.25 s."""
    at = np.array([15.0, 5.0, 40.0, 12.0, 12.25])
    entered = np.array([10.0, 10.0, 10.0, 12.0, 12.0])
    ready = np.array([30.0, 30.0, 30.0, 12.0, 12.5])
    np.testing.assert_allclose(offsets_on_link(at, entered, ready, np.full(5, 400.0)),
                               [100.0, 0.0, 400.0, 400.0, 200.0])


def test_group_by_by_hand() -> None:
    """Keys (edge nodes) [1, 0, 1, 0] at times [0.3, 0.2, 0.1, 0.4]: node 0 gets
    messages 1 (0.2 s) and 3 (0.4 s), node 1 gets 2 (0.1 s) and 0 (0.3 s), each in time
    order; node 2 gets none: bounds [0, 2, 4, 4]."""
    order, bounds = group_by(np.array([1, 0, 1, 0]), np.array([0.3, 0.2, 0.1, 0.4]), 3)
    assert order.tolist() == [1, 3, 2, 0]
    assert bounds.tolist() == [0, 2, 4, 4]


# ---------------------------------------------------------------- demand
def test_delivery_stops_lie_within_their_radius() -> None:
    """5 x 5 grid, 500 m spacing, delivery stops within 600 m of the origin: only the
    direct neighbours (500 m) qualify, never a diagonal (707 m) or anything farther."""
    world = build_world(scenario_from_dict({
        "simulation": {"horizon_s": 600, "seed": 4},
        "road": {"generator": "grid", "grid": {"rows": 5, "cols": 5, "spacing_m": 500}},
        "demand": {"random": {"rate_vph": 600}},
        "vehicles": {"classes": {"car": {"share": 0.0}, "truck": {"share": 0.0},
                                 "delivery": {"share": 1.0, "stops": 2, "radius_m": 600}}},
        "v2x": {"enabled": False}}))
    plan, net = world.plan, world.network
    assert len(plan) > 50
    for origin, stops in zip(plan.origin.tolist(), plan.waypoints, strict=True):
        assert len(stops) == 2
        for stop in stops:
            d = math.hypot(net.x_m[stop] - net.x_m[origin], net.y_m[stop] - net.y_m[origin])
            assert d == pytest.approx(500.0), (origin, stop, d)


def test_one_origin_equal_to_the_one_destination_is_an_error() -> None:
    """Random demand from node 3 to node 3 only has no pair of distinct nodes."""
    from v2x_sim._core.errors import ScenarioError

    with pytest.raises(ScenarioError, match="no pair of distinct nodes") as info:
        build_world(scenario_from_dict({
            "road": {"generator": "grid", "grid": {"rows": 2, "cols": 2}},
            "demand": {"random": {"rate_vph": 600, "origins": [3], "destinations": [3]}},
            "v2x": {"enabled": False}}))
    assert info.value.path == "demand.random"


def test_latency_book_summary_by_hand() -> None:
    """Five delivered latencies 1, 2, 3, 4 and 100 ms against a 10 ms deadline, and 5
    lost: p50 = the 3rd value, 3 ms (within the histogram's 4.7 %), max 100 ms exactly,
    mean 22 ms exactly; sent 10 = 5 delivered + 5 lost; deadline miss ratio =
    (1 late + 5 lost) / (5 + 5) = 0.6."""
    book = LatencyBook(["bsm"], ["air", "total"], [0.01])
    book.count_sent(0, 10)
    book.add_delivered(0, [0.001, 0.002, 0.003, 0.004, 0.1])
    book.count_lost(0, 5, "radio")
    book.add_hop(0, 0, [0.0005, 0.0007])
    entry = book.summary()["bsm"]
    assert list(entry["hops"]) == ["air"]  # hops with data, the total left out
    assert entry["hops"]["air"]["count"] == 2
    assert entry["p50_s"] == pytest.approx(0.003, rel=0.047)
    assert entry["max_s"] == 0.1
    assert entry["mean_s"] == pytest.approx(0.022, rel=1e-12)
    assert (entry["sent"], entry["delivered"], entry["lost"]) == (10, 5, 5)
    assert entry["deadline_miss_ratio"] == pytest.approx(0.6, rel=1e-12)


def test_histograms_with_equal_bins_but_other_values_differ() -> None:
    """2.00 ms and 2.01 ms share a bin (log10(2.01) x 50 = 15.2 bins above 1 ms, like
    log10(2) x 50 = 15.05): same counts and n, but the totals and maxima differ, so the
    histograms are not equal."""
    a, b = LogHistogram(), LogHistogram()
    a.add([0.001, 0.002])
    b.add([0.001, 0.00201])
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a != b
    assert a == a.merge(LogHistogram())
