"""The information boundary: the platform learns only from delivered messages, when they
finish service in the queue that processes them (ARCHITECTURE.md, issue 9).

Hand cases drive one window of the periodic flows with an injected vehicle; the loop
cases run a small incident world twice on one seed, healthy and with an overloaded cloud
or edge, and check that delayed information costs travel time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from v2x_sim import build_world
from v2x_sim.scenario import scenario_from_dict

UPLINK_S = 0.02  # deterministic mode: the Uu uplink delay is its mean
# WAN: 100 km x route factor 1 x 5 us/km = 0.5 ms, plus 5 hops x 0.2 ms = 1.0 ms
WAN_S = 0.0015
STATUS_SERVICE_S = 0.25


def tiny(**extra: Any) -> dict[str, Any]:
    """A 2-segment corridor in deterministic mode with a 1-core cloud and no demand."""
    data: dict[str, Any] = {
        "simulation": {"horizon_s": 60, "deterministic": True},
        "road": {"generator": "corridor", "corridor": {"segments": 2}},
        "demand": {"flows": []},
        "channels": {"uu": {"uplink_mean_s": UPLINK_S, "loss": 0.0},
                     "fibre": {"route_factor": 1.0, "us_per_km": 5.0, "per_hop_s": 0.0002}},
        "cloud": {"distance_km": 100, "hops": 5, "cores": 1,
                  "service": {"status": {"mean_s": STATUS_SERVICE_S}}},
        "messages": {"bsm": {"enabled": False, "rate_hz": 10, "size_bytes": 300,
                             "deadline_s": 0.1},
                     "aggregate": {"enabled": False, "rate_hz": 0.2, "size_bytes": 1200,
                                   "deadline_s": 1.0}},
    }
    data.update(extra)
    return data


def one_vehicle_world(link: int, travel_s: float, exited_s: float, **extra: Any):  # type: ignore[no-untyped-def]
    """A world whose flows see one connected vehicle (trip 0) on link 1, which completed
    ``link`` in ``travel_s`` seconds at ``exited_s``."""
    world = build_world(scenario_from_dict(tiny(**extra)))
    flows = world.v2x.flows
    flows.senders = lambda: (np.array([0]), np.array([1]), np.array([0.0]), np.array([0.0]))
    flows.feeds.probe = lambda ids: (np.full(ids.size, link), np.full(ids.size, travel_s),
                                     np.full(ids.size, exited_s))
    return world, flows, flows.feeds.belief


def test_wan_delay_of_the_hand_case() -> None:
    """The WAN constant the hand cases use is the configured path's."""
    world = build_world(scenario_from_dict(tiny()))
    assert world.v2x.channels.wan.delay_s == pytest.approx(WAN_S, rel=1e-12)


@pytest.mark.parametrize("backlog_until_s", [0.0, 5.0])
def test_status_sample_enters_the_belief_when_the_cloud_finishes_it(
        backlog_until_s: float) -> None:
    """Rule: a status report's sample enters the belief at born + air + WAN + queue wait +
    service, to the instant (deterministic mode).

    Trip 0 sends at phase frac(0 x golden) = 0 s. It reaches the cloud at
    0 + 0.02 + 0.0015 = 0.0215 s. Idle cloud: done 0.0215 + 0.25 = 0.2715 s. Cloud busy
    until 5 s (a known backlog): it waits 5 - 0.0215 = 4.9785 s and is done at 5.25 s.
    """
    _, flows, belief = one_vehicle_world(link=3, travel_s=42.0, exited_s=-0.5)
    flows.cloud.free_s[:] = backlog_until_s
    flows.window(0.0, 1.0)
    arrival = 0.0 + UPLINK_S + WAN_S
    done = max(arrival, backlog_until_s) + STATUS_SERVICE_S
    before = belief.state(done - 1e-9)
    assert np.isnan(before.measured_s[3])
    assert before.travel_time_s[3] == belief.free_flow_s[3]
    after = belief.state(done)
    assert after.travel_time_s[3] == 42.0
    # the sample's age counts from when the vehicle entered the link it reports on
    assert after.measured_s[3] == -0.5 - 42.0
    assert belief.samples == 1


def test_a_report_finishing_after_the_horizon_never_arrives() -> None:
    """Rule: a report still queued at the horizon hands nothing over. Cloud busy until
    59.9 s, horizon 60 s: done at 59.9 + 0.25 = 60.15 s > 60 s."""
    _, flows, belief = one_vehicle_world(link=3, travel_s=42.0, exited_s=-0.5)
    flows.cloud.free_s[:] = 59.9
    flows.window(0.0, 1.0)
    assert np.isnan(belief.state(1e9).measured_s).all()
    assert belief.samples == 0


def test_a_report_lost_on_uu_never_reaches_the_belief() -> None:
    """Rule: in deterministic mode a loss probability above one half loses every report
    (nothing arrives); with loss 0.3 drawn, exactly the delivered reports arrive: samples =
    sent - lost, and the lost share lies in the binomial band 0.3 +- 4 sigma."""
    _, flows, belief = one_vehicle_world(
        link=3, travel_s=42.0, exited_s=-0.5,
        channels={"uu": {"uplink_mean_s": UPLINK_S, "loss": 0.6}})
    flows.window(0.0, 1.0)
    assert belief.state(1e9).travel_time_s[3] == belief.free_flow_s[3]
    assert belief.samples == 0

    data = tiny(channels={"uu": {"uplink_mean_s": UPLINK_S, "loss": 0.3}},
                cloud={"cores": 4, "service": {"status": {"mean_s": 1e-4}}})
    data["simulation"]["deterministic"] = False
    world = build_world(scenario_from_dict(data))
    flows = world.v2x.flows
    n = 2000  # 2,000 vehicles each completing link 3 just before their report
    flows.senders = lambda: (np.arange(n), np.ones(n, np.int64), np.zeros(n), np.zeros(n))
    flows.feeds.probe = lambda ids: (np.full(ids.size, 3), np.full(ids.size, 42.0),
                                     np.full(ids.size, -1e-9))
    flows.window(0.0, 1.0)
    flows.senders = lambda: (np.zeros(0, np.int64),) * 2 + (np.zeros(0),) * 2
    flows.window(1.0, 2.0)  # serves the reports still on their way at 1 s
    flows.feeds.belief.state(1e9)
    lost = int(flows.book.lost[1])  # kind 1: status (radio is its only loss)
    sigma = np.sqrt(n * 0.3 * 0.7)  # ~20.5
    assert abs(lost - 0.3 * n) < 4 * sigma
    assert flows.feeds.belief.samples == n - lost


# ---------------------------------------------------------------- the loop under overload
AGGREGATES_ONLY = ("messages.status.enabled=false", "messages.aggregate.rate_hz=1")
LOOP_RUNS = {
    "healthy": (),
    "none": ("control.policy=none",),
    # 1 core x 50 ms per status report against ~200 reports/s: rho ~ 10
    "cloud_overloaded": ("cloud.cores=1", "cloud.service.status.mean_s=0.05"),
    "aggregates": AGGREGATES_ONLY,
    # 1 core x 2 s per aggregate against 1 aggregate/s per edge node: rho = 2
    "edge_overloaded": (*AGGREGATES_ONLY, "edge.cores=1", "edge.service.aggregate.mean_s=2"),
}


@pytest.fixture(scope="module")
def loop_runs() -> dict[str, tuple[Any, dict[str, Any]]]:
    """incident_reroute (blockage 900-2,400 s) to 2,400 s without background load, seed 1:
    name -> (age of the belief per control period, summary)."""
    from v2x_sim import load_scenario

    out = {}
    for name, sets in LOOP_RUNS.items():
        world = build_world(load_scenario("incident_reroute", [
            "simulation.horizon_s=2400", "v2x.background=off", *sets]))
        summary = world.run().summary
        ages = np.array([row["age_mean_s"] for row in world.control.stats.belief_rows])
        out[name] = (ages, summary)
    return out


def grows_without_bound(ages: np.ndarray, period_s: float = 60.0) -> bool:
    """Age rises by at least half the elapsed time over the second half of the run."""
    half = ages[len(ages) // 2:]
    return bool(half[-1] - half[0] >= 0.5 * period_s * (len(half) - 1))


def test_an_overloaded_cloud_ages_the_belief_and_rerouting_degrades_to_none(
        loop_runs: dict[str, tuple[Any, dict[str, Any]]]) -> None:
    """Rule: with the cloud at rho > 1 the belief's age grows without bound, and the
    time in system (vehicle-hours, identical demand) loses at least half of what a healthy
    cloud's rerouting gains over ``none`` (measured: all of it, 399.2 -> 431.3 veh-h, as
    ``none``), and the completed trips' mean travel time is worse (372.9 -> 377.2 s)."""
    healthy_ages, healthy = loop_runs["healthy"]
    ages, over = loop_runs["cloud_overloaded"]
    _, none = loop_runs["none"]
    assert grows_without_bound(ages)
    assert healthy_ages.max() < 10.0  # 1 Hz reports: a few seconds old
    gain = none["vehicle_hours"] - healthy["vehicle_hours"]
    assert gain > 0.02 * none["vehicle_hours"]
    assert over["vehicle_hours"] - healthy["vehicle_hours"] > 0.5 * gain
    assert over["travel_time_mean_s"] > healthy["travel_time_mean_s"]
    assert over["rerouting"]["followed"] < 0.5 * healthy["rerouting"]["followed"]


def test_an_overloaded_edge_ages_aggregates_and_rerouting_degrades(
        loop_runs: dict[str, tuple[Any, dict[str, Any]]]) -> None:
    """Rule: fed by aggregates only, an edge at rho > 1 delays each aggregate more than the
    last (its age grows without bound) and rerouting loses at least half of its gain
    (measured: 399.6 -> 431.1 veh-h against 431.3 for ``none``; mean trip 373.8 -> 379.4 s)."""
    healthy_ages, healthy = loop_runs["aggregates"]
    ages, over = loop_runs["edge_overloaded"]
    _, none = loop_runs["none"]
    assert grows_without_bound(ages)
    assert healthy_ages.max() < 10.0
    gain = none["vehicle_hours"] - healthy["vehicle_hours"]
    assert gain > 0.02 * none["vehicle_hours"]
    assert over["vehicle_hours"] - healthy["vehicle_hours"] > 0.5 * gain
    assert over["travel_time_mean_s"] > healthy["travel_time_mean_s"]
