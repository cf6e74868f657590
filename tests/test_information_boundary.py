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
AGGREGATES_ONLY = ("messages.aggregate.rate_hz=1",)
# radars 300 m apart, 250 m either side: every link watched, as incident_reroute's sensors
# were when these runs were measured (the bundled scenario now watches half the road)
WATCH_EVERY_LINK = "roadside.sensors=[{kind: radar, placement: {spacing_m: 300}}]"
LOOP_RUNS = {
    "healthy": (),
    "none": ("control.policy=none",),
    # 1 core x 50 ms per status report against ~200 reports/s: rho ~ 10
    "cloud_overloaded": ("cloud.cores=1", "cloud.service.status.mean_s=0.05"),
    # status reports still tell the cloud where vehicles are (its registry); their link
    # times are taken out (`loop_runs`), so aggregates alone feed the belief
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
        # warned vehicles do not react: the edge's local detours would blur the cloud's part
        world = build_world(load_scenario("incident_reroute", [
            "simulation.horizon_s=2400", "simulation.drain=false", "v2x.background=off",
            "v2x.warning_reaction=false", WATCH_EVERY_LINK, *sets]))
        if "aggregate" in name or "edge" in name:
            feeds = world.v2x.flows.feeds
            feeds.probe = lambda ids: (np.full(ids.size, -1), np.zeros(ids.size),
                                       np.zeros(ids.size))
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


# ---------------------------------------------------------- what the platform knows
def test_registry_keeps_each_vehicles_newest_delivered_report_and_forgets_silence() -> None:
    """Rule: a report counts from its receive instant; the newest (by send time) wins even
    when an older one is processed later; a vehicle silent for forget_after_s is dropped."""
    from v2x_sim.compute.cloud import VehicleRegistry

    registry = VehicleRegistry(forget_after_s=10.0)
    # vehicle 2: sent at 1 s on link 5 (processed 1.2 s), sent at 2 s on link 6 (processed
    # 2.1 s), a straggler sent at 1.5 s on link 9 processed last (3 s); vehicle 0: one
    # report sent at 0.5 s on link 4, processed at 8 s
    registry.ingest(np.array([1.2, 2.1, 3.0, 8.0]), np.array([2, 2, 2, 0]),
                    np.array([5, 6, 9, 4]), np.array([1.0, 2.0, 1.5, 0.5]))
    ids, link, at = registry.known(1.19)
    assert ids.size == 0  # nothing processed yet
    ids, link, at = registry.known(1.2)
    assert ids.tolist() == [2]
    assert link.tolist() == [5]
    assert at.tolist() == [1.0]
    ids, link, at = registry.known(5.0)
    assert ids.tolist() == [2]
    assert link.tolist() == [6]
    assert at.tolist() == [2.0]
    ids, link, _ = registry.known(8.0)
    assert ids.tolist() == [0, 2]
    assert link.tolist() == [4, 6]
    # 12.01 s: vehicle 2's newest report (2 s) is 10.01 s old; vehicle 0's (0.5 s) older
    ids, _, _ = registry.known(12.01)
    assert ids.size == 0


class Recorder:
    """A periodic belief policy that advises nobody and records what it was shown."""

    name, periodic, on_departure, on_hazard, uses_truth = "recorder", True, False, False, False

    def __init__(self, live: Any = None) -> None:
        self.seen: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.live = live  # the test's window on the road, to compare with the view
        self.live_seen: list[tuple[np.ndarray, np.ndarray]] = []

    def decide(self, view: Any) -> Any:
        from v2x_sim.control.policy import RouteAdvice

        ids, links = view.vehicles.ids.copy(), view.vehicles.link.copy()
        self.seen.append((view.now_s, ids, links))
        if self.live is not None:
            self.live_seen.append((self.live(ids), links))
        return RouteAdvice()


def instrumented(policy: str, *sets: str) -> tuple[Any, Recorder | None, list[int]]:
    """incident_reroute to 900 s with the truth counted while a policy's view is built."""
    from v2x_sim import load_scenario

    world = build_world(load_scenario("incident_reroute", [
        "simulation.horizon_s=900", "simulation.drain=false", "v2x.background=off",
        f"control.policy={policy}", *sets]))
    recorder = None
    if policy == "dynamic_shortest":
        recorder = Recorder(live=lambda ids: world.fleet.link[ids].copy())
        world.control.policy = recorder
    inside = [False]
    truth_reads = [0]
    traffic = world.traffic
    for name in ("travel_time_s", "density_vpm"):
        real = getattr(traffic, name)

        def counted(real: Any = real) -> Any:
            truth_reads[0] += inside[0]
            return real()

        setattr(traffic, name, counted)
    ask = world.control._ask_policy

    def asking(*args: Any, **kwargs: Any) -> Any:
        inside[0] = True
        try:
            return ask(*args, **kwargs)
        finally:
            inside[0] = False

    world.control._ask_policy = asking
    world.run()
    return world, recorder, truth_reads


def test_a_belief_policy_never_reads_the_truth_and_the_oracle_does() -> None:
    """Rule: building a belief policy's view reads no live link state; the oracle's does
    (so the instrument sees truth reads when they happen)."""
    _, recorder, reads = instrumented("dynamic_shortest")
    assert recorder is not None
    assert len(recorder.seen) == 14  # decisions at 60, 120, ..., 840 s (900 s: horizon)
    assert reads[0] == 0
    _, _, oracle_reads = instrumented("oracle")
    assert oracle_reads[0] > 0


@pytest.mark.parametrize("sets", [
    ("channels.uu.loss=0.6", "simulation.deterministic=true"),  # every report lost
    ("messages.status.enabled=false",),
])
def test_vehicles_the_cloud_has_not_heard_from_are_not_shown_to_a_policy(
        sets: tuple[str, ...]) -> None:
    """Rule: the vehicles a policy may advise come from delivered status reports only:
    with every report lost, or none sent, the policy is never shown a vehicle (it is not
    even asked: nobody to advise), although decisions run and connected vehicles are on
    the road (the healthy run below shows hundreds)."""
    world, recorder, _ = instrumented("dynamic_shortest", *sets)
    assert recorder is not None
    assert recorder.seen == []
    assert world.control.stats.job_s  # decision jobs ran
    n = len(world.fleet)
    on_road = world.fleet.connected[:n] & (world.fleet.link[:n] >= 0)
    assert on_road.sum() > 50


def test_healthy_view_shows_reported_links_not_live_ones() -> None:
    """Rule: with a healthy cloud the view holds each vehicle's link from its last
    delivered report (sent at most a report period, 1 s, plus the window before): every
    link shown lies on that vehicle's route, and some vehicles have since moved on."""
    world, recorder, _ = instrumented("dynamic_shortest")
    assert recorder is not None
    shown = 0
    for _, ids, links in recorder.seen:
        for v, link in zip(ids.tolist(), links.tolist(), strict=True):
            assert link in world.traffic.routes[v]
        shown += ids.size
    moved = sum(int((live != links).sum()) for live, links in recorder.live_seen)
    assert shown > 500
    assert 0 < moved < 0.5 * shown


# ---------------------------------------------------------------- incident clearance
def grid_incident(*, sensors: bool) -> Any:
    """4x4 grid (400 m), ~2,500 veh/h, one lane of link 20 closed 120-500 s; rerouting
    on, deterministic, no background load; with the default sensors or none."""
    data: dict[str, Any] = {
        "simulation": {"horizon_s": 900, "seed": 1, "deterministic": True},
        "road": {"generator": "grid", "grid": {"rows": 4, "cols": 4, "spacing_m": 400}},
        "demand": {"random": {"rate_vph": 2500}},
        "incidents": [{"link": 20, "start_s": 120, "end_s": 500, "lanes_closed": 1}],
        "edge": {"nodes": 2, "cores": 2},
        "control": {"policy": "dynamic_shortest"},
        "v2x": {"background": "off"},
    }
    if not sensors:
        data["roadside"] = {"sensors": []}
    world = build_world(scenario_from_dict(data))
    world.run()
    return world


@pytest.mark.parametrize("sensors", [True, False])
def test_clearance_reaches_the_platform_through_detection_and_the_queues(
        sensors: bool) -> None:
    """Rule: an incident's end is detected (by a sensor watching it, or a connected
    vehicle crossing the spot at normal speed where none does), processed at the edge,
    and known to the cloud only after the WAN, its queue and its service; until then the
    platform treats the link as blocked."""
    world = grid_incident(sensors=sensors)
    record = world.v2x.hazards.records[0]
    assert record.end_s == 500.0
    if sensors:  # deterministic: round(1 / 0.9) = 1 frame, the first at or after 500 s
        assert record.cleared_by in {"camera", "radar"}
        assert 500.0 <= record.clear_detect_s < 500.1  # frames every 0.1 s
    else:
        assert record.cleared_by == "bsm"
        assert record.clear_detect_s > 500.0
    assert record.clear_done_s > record.clear_detect_s
    known = world.control.cleared_at[record.link]
    wan = world.v2x.channels.wan.delay_s
    # WAN, then at least the cloud's 0.2 ms of hazard-report service
    assert known >= record.clear_done_s + wan + 0.0002 - 1e-12
    assert record.link not in world.control.hazard_links
