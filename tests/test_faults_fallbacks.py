"""Edge node down (and its failover), cloud outage and WAN cut: hand-derived effects.

Small 4x4 grid (400 m), 300 s per run. Deterministic runs leave out the background load
(``v2x.background: off``), aggregates and status reports, so a hazard report waits for
nobody and its warning's latency is a plain sum of configured delays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from v2x_sim import build_world
from v2x_sim.scenario import scenario_from_dict

HORIZON_S = 300.0
FRAME_HZ = 10.0  # roadside default frame rate


def grid(faults: list[dict[str, Any]], *, deterministic: bool = False,
         edge: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """4x4 grid, ~2,500 veh/h, a lane closed on link 20 from 120 s; edge sites given."""
    data: dict[str, Any] = {
        "simulation": {"horizon_s": HORIZON_S, "seed": 3, "deterministic": deterministic},
        "road": {"generator": "grid", "grid": {"rows": 4, "cols": 4, "spacing_m": 400}},
        "demand": {"random": {"rate_vph": 2500}},
        "incidents": [{"link": 20, "start_s": 120, "end_s": 280, "lanes_closed": 1}],
        "edge": {"nodes": 2, "cores": 2,
                 "positions": [{"x_m": 0, "y_m": 0}, {"x_m": 1200, "y_m": 1200}],
                 **(edge or {})},
        "faults": faults,
    }
    data.update(extra)
    return data


def run(faults: list[dict[str, Any]], **kw: Any):  # type: ignore[no-untyped-def]
    return build_world(scenario_from_dict(grid(faults, **kw))).run()


QUIET = {"v2x": {"background": "off"},
         "messages": {"status": {"enabled": False}, "aggregate": {"enabled": False}}}


def first_warning(result: Any) -> tuple[int, float]:
    """(home edge node, latency of the first delivered warning) of the first hazard.

    Of its first broadcast: a repetition leaves the edge later and pays no uplink.
    """
    hazard = result.summary["hazards"]["by_hazard"][0]
    warnings = result.all_tables()["warnings"]
    delivered = ((warnings["hazard"] == 0) & warnings["delivered"].astype(bool)
                 & (warnings["repetition"] == 0))
    return int(hazard["edge"]), float(np.min(warnings["latency_s"][delivered]))


@pytest.fixture(scope="module")
def quiet_plain() -> tuple[int, float]:
    return first_warning(run([], deterministic=True, **QUIET))


def test_neighbour_failover_adds_the_longer_fibre_path_twice(quiet_plain) -> None:  # type: ignore[no-untyped-def]
    """Report up and warning down both take the site-to-site path.

    Sites (0, 0) and (1200, 1200): 1,697.06 m apart; fibre 5 us/km with route factor
    1.3 and 0.2 ms per hop, 2 failover hops: 1.69706 x 1.3 x 5e-6 + 2 x 0.0002 =
    0.000411031 s each way, so the warning arrives 0.000822062 s later.
    """
    home, plain_s = quiet_plain
    result = run([{"kind": "edge_down", "start_s": 0, "end_s": HORIZON_S, "targets": [home]}],
                 deterministic=True, **QUIET)
    edge, failed_s = first_warning(result)
    assert edge == home
    assert result.summary["hazards"]["by_hazard"][0]["failover"] == f"edge-{1 - home}"
    split = result.summary["resilience"]["latency"]["hazard_warning"]
    assert split["during"]["count"] > 0  # the hazard began inside the window
    assert split["outside"]["count"] == 0
    extra_s = np.hypot(1200, 1200) / 1000 * 1.3 * 5e-6 + 2 * 0.0002
    assert failed_s - plain_s == pytest.approx(2 * extra_s, rel=1e-9)


def test_cloud_failover_adds_the_wan_twice(quiet_plain) -> None:  # type: ignore[no-untyped-def]
    """``edge.failover: cloud``: up and back over the WAN of the regional tier.

    Regional tier: 75 km, 4 hops: 75 x 1.3 x 5e-6 + 4 x 0.0002 = 0.0012875 s each way.
    """
    home, plain_s = quiet_plain
    result = run([{"kind": "edge_down", "start_s": 0, "end_s": HORIZON_S, "targets": [home]}],
                 deterministic=True, edge={"failover": "cloud"}, **QUIET)
    _, failed_s = first_warning(result)
    assert result.summary["hazards"]["by_hazard"][0]["failover"] == "cloud"
    assert failed_s - plain_s == pytest.approx(2 * (75 * 1.3 * 5e-6 + 4 * 0.0002), rel=1e-9)


def test_no_failover_loses_the_hazard_report(quiet_plain) -> None:  # type: ignore[no-untyped-def]
    """``edge.failover: none``: the report dies at the failed node; nobody is warned."""
    home, _ = quiet_plain
    result = run([{"kind": "edge_down", "start_s": 100, "end_s": 200, "targets": [home]}],
                 deterministic=True, edge={"failover": "none"}, **QUIET)
    window = result.summary["resilience"]["faults"][0]
    assert window["hazard_reports_lost"] == 1
    assert window["hazards"] == 1
    assert window["warned"] == 0
    assert result.summary["hazards"]["by_hazard"][0]["failover"] == "lost"


def test_the_neighbour_takes_over_exactly_the_failed_nodes_frames() -> None:
    """BSMs off: edge 0 down for [100, 200) hands 10 Hz x 100 s per sensor to edge 1."""
    result = run([{"kind": "edge_down", "start_s": 100, "end_s": 200, "targets": [0]}],
                 messages={"bsm": {"enabled": False}})
    devices = result.all_tables()["devices"]
    sensors_0 = int(((devices["edge"] == 0) & (devices["kind"] != "rsu")).sum())
    window = result.summary["resilience"]["faults"][0]
    assert window["taken_over"] == {"edge-1": sensors_0 * FRAME_HZ * 100}
    assert window["lost"] == {"aggregate": 20}  # 0.2 Hz x 100 s the failed node never built
    nodes = window["nodes"]
    assert nodes["edge-1"]["utilisation_during"] > 1.5 * nodes["edge-1"]["utilisation_before"]
    assert nodes["edge-0"]["utilisation_during"] == 0.0
    latency = result.summary["latency"]
    for kind, row in latency.items():
        assert row["sent"] == row["delivered"] + row["lost"] + row["in_flight"], kind


def test_during_a_cloud_outage_no_cloud_advice_is_delivered() -> None:
    """Periodic decisions every 30 s; the cloud is out for [120, 240).

    The decisions due at 120, 150, 180 and 210 s are paused (4), no advice leaves the
    cloud inside the window, and status reports arriving then are lost (``outage``).
    """
    result = run([{"kind": "cloud_outage", "start_s": 120, "end_s": 240}],
                 control={"policy": "dynamic_shortest", "period_s": 30})
    rerouting = result.summary["rerouting"]
    assert rerouting["unanswered_by_reason"]["cloud_outage"] == 4
    advice = result.all_tables()["advice"]
    assert advice["decided_s"].size > 0  # advice flows outside the window
    inside = (advice["decided_s"] >= 120) & (advice["decided_s"] < 240)
    assert not inside.any()
    assert not ((advice["delivered_s"] >= 121) & (advice["delivered_s"] < 240)).any()
    assert result.summary["resilience"]["lost_outage"]["status"] > 0
    # nothing reaches the cloud in [120, 240): at the last measurement inside (210 s)
    # every sampled link's newest sample is from before 120 s, so the mean age >= 90 s
    belief = result.summary["resilience"]["faults"][0]["belief"]
    assert belief["age_mean_max_during_s"] >= 90.0
    assert belief["age_mean_before_s"] < 60.0
    assert belief["recover_s"] is not None
    assert belief["recover_s"] % 30 == 0  # measured once per control period
    advice_split = result.summary["resilience"]["latency"]["route_advice"]
    assert advice_split["during"]["count"] == 0  # no advice decided in the window
    assert advice_split["outside"]["count"] == advice["decided_s"].size
    for kind, row in result.summary["latency"].items():
        assert row["sent"] == row["delivered"] + row["lost"] + row["in_flight"], kind


def test_an_edge_local_policy_goes_on_through_a_cloud_outage() -> None:
    """incident_detour decides at the edge: the cloud out all run, detours still arrive."""
    result = run([{"kind": "cloud_outage", "start_s": 0, "end_s": HORIZON_S}],
                 control={"policy": "incident_detour"})
    assert result.summary["rerouting"]["delivered"] > 0
    assert result.summary["latency"]["status"]["delivered"] == 0


def test_a_wan_cut_starves_the_cloud() -> None:
    """WAN cut for the whole run: no status report or aggregate reaches the cloud."""
    result = run([{"kind": "wan_cut", "start_s": 0, "end_s": HORIZON_S}])
    latency = result.summary["latency"]
    assert latency["status"]["delivered"] == 0
    assert latency["aggregate"]["delivered"] == 0
    assert latency["status"]["lost_by_reason"]["outage"] > 0
    assert latency["bsm"]["delivered"] > 0  # the edge side works on


def test_the_report_draws_the_fault_timeline() -> None:
    """One bar per open window (the empty one left out); queues of the loaded nodes."""
    from v2x_sim.report.figures_faults import fault_timeline, has_faults

    result = run([{"kind": "edge_down", "start_s": 100, "end_s": 200, "targets": [0]},
                  {"kind": "cloud_outage", "start_s": 50, "end_s": 50}])
    summary = result.summary
    assert has_faults(summary)
    assert not has_faults({"resilience": {"faults": [{"start_s": 5, "end_s": 5}]}})
    fig = fault_timeline(summary, result.all_tables()["edges"])
    top, bottom = fig.axes
    assert len(top.patches) == 1  # the empty cloud outage draws nothing
    assert sorted(line.get_label() for line in bottom.get_lines()) == ["edge-0", "edge-1"]


def test_failed_over_frames_pay_the_longer_path() -> None:
    """Edge 0 down all run: its sensors' frames take 0.000411031 s more to reach a node.

    The mean backhaul of all frames grows by (edge-0 sensors / all sensors) x the extra
    one-way delay of the site-to-site path (see the neighbour test for the arithmetic).
    """
    quiet = {"messages": {"bsm": {"enabled": False}}}
    plain = run([], deterministic=True, **quiet)
    failed = run([{"kind": "edge_down", "start_s": 0, "end_s": HORIZON_S + 10,
                   "targets": [0]}], deterministic=True, **quiet)
    devices = failed.all_tables()["devices"]
    sensors = devices["kind"] != "rsu"
    share = ((devices["edge"] == 0) & sensors).sum() / sensors.sum()
    extra_s = np.hypot(1200, 1200) / 1000 * 1.3 * 5e-6 + 2 * 0.0002

    def backhaul(result: Any) -> dict[str, Any]:
        return result.summary["latency"]["perception"]["hops"]["backhaul"]

    assert backhaul(failed)["count"] == backhaul(plain)["count"]
    assert backhaul(failed)["mean_s"] - backhaul(plain)["mean_s"] == pytest.approx(
        share * extra_s, rel=1e-6)


def test_advice_in_a_degraded_window_is_slower_by_the_factor() -> None:
    """Deterministic: advice over Uu takes 4 ms (NR downlink) + WAN 1.2875 ms; inside a
    latency_factor 5 window the air hop is 20 ms: 21.2875 ms against 5.2875 ms."""
    result = run([{"kind": "cellular_degradation", "start_s": 120, "end_s": 240,
                   "latency_factor": 5}], deterministic=True,
                 control={"policy": "dynamic_shortest", "period_s": 30})
    split = result.summary["resilience"]["latency"]["route_advice"]
    assert split["during"]["count"] > 0
    assert split["outside"]["count"] > 0
    wan_s = 75 * 1.3 * 5e-6 + 4 * 0.0002
    # histograms: the mean is exact (sum / count)
    assert split["during"]["mean_s"] == pytest.approx(5 * 0.004 + wan_s, rel=1e-9)
    assert split["outside"]["mean_s"] == pytest.approx(0.004 + wan_s, rel=1e-9)
