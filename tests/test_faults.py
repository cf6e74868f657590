"""Fault windows (``faults:``): what an outage drops, that nothing else moves, and errors.

Small 4x4 grid, 300 s simulated per run. Expected counts come from the configuration:
sensors send 10 frames a second each (the roadside default), so a sensor silent for
100 s loses exactly 1,000 frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from v2x_sim import build_world
from v2x_sim._core.errors import ScenarioError
from v2x_sim.cli import main
from v2x_sim.scenario import scenario_from_dict

HORIZON_S = 300.0
FRAME_HZ = 10.0  # roadside default frame rate of every sensor kind


def grid(faults: list[dict[str, Any]], *, deterministic: bool = False,
         **extra: Any) -> dict[str, Any]:
    """4x4 grid (400 m), ~2,500 veh/h, 300 s, one lane closed on link 20 from 120 s."""
    data: dict[str, Any] = {
        "simulation": {"horizon_s": HORIZON_S, "seed": 3, "deterministic": deterministic},
        "road": {"generator": "grid", "grid": {"rows": 4, "cols": 4, "spacing_m": 400}},
        "demand": {"random": {"rate_vph": 2500}},
        "incidents": [{"link": 20, "start_s": 120, "end_s": 280, "lanes_closed": 1}],
        "edge": {"nodes": 2, "cores": 2},
        "faults": faults,
    }
    data.update(extra)
    return data


def run(faults: list[dict[str, Any]], **kw: Any):  # type: ignore[no-untyped-def]
    return build_world(scenario_from_dict(grid(faults, **kw))).run()


@pytest.fixture(scope="module")
def plain():  # type: ignore[no-untyped-def]
    return run([])


@pytest.fixture(scope="module")
def faulty():  # type: ignore[no-untyped-def]
    """Half the RSUs out for 100 s, a cellular degradation, one sensor failed throughout."""
    return run([
        {"kind": "rsu_outage", "start_s": 100, "end_s": 200, "share": 0.5},
        {"kind": "cellular_degradation", "start_s": 50, "end_s": 250, "loss": 0.8},
        {"kind": "sensor_failure", "start_s": 0, "end_s": 300, "targets": [40]},
    ])


def without_faults(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "resilience"}


def test_an_empty_window_changes_nothing(plain) -> None:  # type: ignore[no-untyped-def]
    """Windows with end_s == start_s (of every modelled kind) leave the run identical."""
    empty = run([
        {"kind": "rsu_outage", "start_s": 100, "end_s": 100, "share": 0.5},
        {"kind": "sensor_failure", "start_s": 60, "end_s": 60, "targets": [40, 41]},
        {"kind": "backhaul_cut", "start_s": 10, "end_s": 10, "targets": [0]},
        {"kind": "cellular_degradation", "start_s": 50, "end_s": 50, "loss": 0.9,
         "latency_factor": 5},
        {"kind": "edge_down", "start_s": 130, "end_s": 130, "targets": [0, 1]},
        {"kind": "cloud_outage", "start_s": 0, "end_s": 0},
        {"kind": "wan_cut", "start_s": 200, "end_s": 200},
    ])
    assert without_faults(empty.summary) == without_faults(plain.summary)
    for name in ("trips", "warnings"):
        for column, values in plain.all_tables()[name].items():
            np.testing.assert_array_equal(empty.all_tables()[name][column], values)
    assert empty.summary["resilience"]["lost_outage"] == {}


def test_messages_are_conserved_through_outages(faulty) -> None:  # type: ignore[no-untyped-def]
    """sent = delivered + lost + in flight for every kind, and outage losses add up."""
    latency = faulty.summary["latency"]
    for kind, row in latency.items():
        assert row["sent"] == row["delivered"] + row["lost"] + row["in_flight"], kind
        assert row["lost"] == sum(row["lost_by_reason"].values()), kind
    resilience = faulty.summary["resilience"]
    for kind, n in resilience["lost_outage"].items():
        assert latency[kind]["lost_by_reason"]["outage"] == n
        assert n == sum(w["lost"].get(kind, 0) for w in resilience["faults"])
    assert resilience["lost_outage"]["bsm"] > 0  # the RSU outage silenced BSMs


def test_a_failed_sensor_loses_its_frames_exactly(faulty) -> None:  # type: ignore[no-untyped-def]
    """Sensor 40 is down for the whole 300 s: 10 Hz x 300 s = 3,000 frames lost."""
    window = faulty.summary["resilience"]["faults"][2]
    assert window["kind"] == "sensor_failure"
    assert window["lost"] == {"perception": 3000}


def test_an_rsu_outage_silences_the_sensors_behind_it() -> None:
    """RSU 3 down for [100, 160): its sensors lose 10 Hz x 60 s = 600 frames each."""
    result = run([{"kind": "rsu_outage", "start_s": 100, "end_s": 160, "targets": [3]}])
    devices = result.tables["devices"]
    behind = int(((devices["rsu"] == 3) & (devices["kind"] != "rsu")).sum())
    assert behind > 0
    lost = result.summary["resilience"]["faults"][0]["lost"]
    assert lost["perception"] == behind * FRAME_HZ * 60.0


def test_demand_is_common_to_the_faulty_twin(plain, faulty) -> None:  # type: ignore[no-untyped-def]
    """A fault draws from its own streams: every trip departs as in the plain run."""
    np.testing.assert_array_equal(faulty.trips["depart_s"],
                                  plain.trips["depart_s"])


def test_cellular_degradation_hits_the_configured_share() -> None:
    """loss 0.8 over the whole run: 0.8 of all status reports lost, in a binomial band.

    The channel's own loss b (NR: 0.001) stays; the window adds (0.8 - b) / (1 - b) of
    what the channel delivered, so radio + outage losses are 0.8 of those sent.
    """
    result = run([{"kind": "cellular_degradation", "start_s": 0, "end_s": HORIZON_S,
                   "loss": 0.8}])
    status = result.summary["latency"]["status"]
    sent = status["sent"]
    lost = status["lost_by_reason"]
    share = (lost.get("radio", 0) + lost["outage"]) / sent
    sd = np.sqrt(0.8 * 0.2 / sent)  # ~0.006 for ~4,000 reports
    assert share == pytest.approx(0.8, abs=4 * sd)
    assert lost["outage"] > 10 * lost.get("radio", 0)


def test_degradation_multiplies_uu_delay_in_deterministic_mode() -> None:
    """latency_factor 3 over the whole run: every status report's air hop is 3 x 4 ms.

    Deterministic mode: Uu delay = its mean (NR profile uplink 4 ms); loss 0.4 keeps
    1 - 0.4 >= 0.5, so nothing is lost.
    """
    result = run([{"kind": "cellular_degradation", "start_s": 0, "end_s": HORIZON_S,
                   "loss": 0.4, "latency_factor": 3}], deterministic=True)
    status = result.summary["latency"]["status"]
    assert status["hops"]["air"]["mean_s"] == pytest.approx(3 * 0.004, rel=1e-9)
    assert status["hops"]["air"]["max_s"] == pytest.approx(3 * 0.004, rel=1e-9)
    assert "outage" not in status["lost_by_reason"]


def test_deterministic_degradation_past_half_loses_everything_inside() -> None:
    """loss 0.6 in [100, 200): 1 - 0.6 < 0.5, so every report sent inside is lost."""
    result = run([{"kind": "cellular_degradation", "start_s": 100, "end_s": 200,
                   "loss": 0.6}], deterministic=True)
    latency = result.summary["resilience"]["latency"]["status"]
    assert latency["during"]["count"] == 0  # none born inside arrived
    assert latency["outside"]["count"] > 0
    assert result.summary["resilience"]["lost_outage"]["status"] > 0


def test_every_rsu_down_means_no_hazard_is_detected() -> None:
    """All 32 RSUs out for the whole run: no frame or BSM reaches an edge node."""
    result = run([{"kind": "rsu_outage", "start_s": 0, "end_s": HORIZON_S, "share": 1.0}])
    hazards = result.summary["hazards"]
    assert hazards["count"] >= 1
    assert hazards["detected"] == 0
    assert result.summary["latency"]["bsm"]["delivered"] == 0
    assert result.summary["latency"]["perception"]["delivered"] == 0


def test_a_backhaul_cut_isolates_that_edge_nodes_rsus() -> None:
    """Edge 0's fibre cut past the horizon: BSMs still reach edge 1, none reach edge 0."""
    result = run([{"kind": "backhaul_cut", "start_s": 0, "end_s": HORIZON_S + 10,
                   "targets": ["edge-0"]}])
    rsus = result.tables["rsus"]
    on_0 = rsus["edge"] == 0
    assert on_0.any()
    assert (rsus["bsm_received"][on_0] == 0).all()
    assert rsus["bsm_received"][~on_0].sum() > 0


@pytest.mark.parametrize(("fault", "path", "needle"), [
    ({"kind": "rsu_outage", "start_s": 100, "end_s": 50, "targets": [1]}, "faults[0]",
     "must not be before start_s"),
    ({"kind": "edge_down", "start_s": 0, "end_s": 10}, "faults[0]", "targets"),
    ({"kind": "rsu_outage", "start_s": 0, "end_s": 10}, "faults[0]", "targets"),
    ({"kind": "cellular_degradation", "start_s": 0, "end_s": 10}, "faults[0]",
     "loss and/or latency_factor"),
    ({"kind": "wan_cut", "start_s": 0, "end_s": 10, "targets": [1]}, "faults[0]",
     "takes no targets"),
    ({"kind": "edge_down", "start_s": 0, "end_s": 10, "targets": [0], "share": 0.5},
     "faults[0]", "share is only for"),
])
def test_bad_windows_are_rejected(fault: dict[str, Any], path: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(grid([fault]))
    assert err.value.path.startswith(path)
    assert needle in str(err.value)


def test_an_index_past_the_world_is_one_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """RSU 999 does not exist: one line naming the field and value, exit 2, no traceback."""
    path = tmp_path / "s.yaml"
    path.write_text("extends: quickstart\nsimulation: {horizon_s: 60}\n"
                    "faults:\n  - {kind: rsu_outage, start_s: 0, end_s: 10, targets: [999]}\n")
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code != 0
    assert "faults[0].targets = 999" in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert not (tmp_path / "out").exists()


def test_requests_lost_to_a_degraded_uu_go_unanswered() -> None:
    """at_departure: every route request in a loss-0.6 window is lost (deterministic).

    A request is no message kind of the book: it shows as unanswered, never as a BSM.
    """
    result = run([{"kind": "cellular_degradation", "start_s": 0, "end_s": HORIZON_S,
                   "loss": 0.6}], deterministic=True, control={"policy": "at_departure"},
                 messages={"bsm": {"enabled": False}})
    rerouting = result.summary["rerouting"]
    assert rerouting["unanswered_by_reason"]["request_lost"] > 0
    assert rerouting["decisions"] == 0  # no request reached the cloud
    assert "bsm" not in result.summary["resilience"]["lost_outage"]
