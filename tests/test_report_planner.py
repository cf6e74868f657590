"""The report a planner reads: key numbers worked out by hand, figures that show what is
there (no empty panels, readable axes, every shown link labelled), and the page in a
real browser (no console errors, every image loads)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import v2x_sim
from v2x_sim.report import build_report, planner
from v2x_sim.report import figures_comms as comms
from v2x_sim.report import figures_control as control
from v2x_sim.report import figures_traffic as traffic
from v2x_sim.report.cards import num
from v2x_sim.scenario import scenario_from_dict

# Two links, two 60 s bins (hand values in the tests below):
#   a, [0, 60):   2 vehicles at 5 m/s, ratio 0.5 -> 2*60/3600 = 1/30 veh·h, lost 1/60, 0.6 km
#   a, [60, 120): 1 vehicle at 10 m/s, ratio 1.0 -> 1/60 veh·h, lost 0, 0.6 km
#   b, [0, 60):   3 vehicles at 4 m/s, ratio 0.2 -> 0.05 veh·h, lost 0.04, 0.72 km
#   b, [60, 120): nobody
LINKS = {"link": np.array(["a", "a", "b", "b"]), "from": np.array(["1", "1", "2", "2"]),
         "to": np.array(["2", "2", "1", "1"]),
         "t_start_s": np.array([0.0, 60.0, 0.0, 60.0]),
         "t_end_s": np.array([60.0, 120.0, 60.0, 120.0]),
         "vehicles": np.array([2.0, 1.0, 3.0, 0.0]),
         "mean_speed_mps": np.array([5.0, 10.0, 4.0, np.nan]),
         "speed_ratio": np.array([0.5, 1.0, 0.2, np.nan]),
         "entered": np.array([4, 2, 5, 0])}
TRIPS = {"arrive_s": np.array([10.0, 30.0, 70.0, 80.0, 90.0, 200.0, np.nan])}
EVENTS = {"time_s": np.array([60.0, 120.0]), "kind": np.array(["incident_start",
                                                                "incident_end"]),
          "link": np.array(["a", "a"]), "vehicle": np.array([-1, -1]),
          "detail": np.array(["", ""])}


def test_network_speed_is_vehicle_km_over_vehicle_hours() -> None:
    # (0.6 + 0.6 + 0.72) km / (1/30 + 1/60 + 0.05) h = 1.92 / 0.1 = 19.2 km/h
    assert planner.network_speed_kmh(LINKS) == pytest.approx(19.2)


def test_worst_links_rank_by_lost_vehicle_hours() -> None:
    b, a = planner.worst_links(LINKS)
    assert (b.link, a.link) == ("b", "a")
    assert b.lost_vehicle_hours == pytest.approx(0.04)
    assert a.lost_vehicle_hours == pytest.approx(1 / 60)
    assert a.mean_speed_kmh == pytest.approx(1.2 / 0.05)  # 24 km/h
    assert (b.worst_ratio, b.worst_bin_start_s, b.entered) == (0.2, 0.0, 5)
    assert (a.from_node, a.to_node, a.entered) == ("1", "2", 6)
    assert planner.worst_links(LINKS, n=1) == [b]


def test_incident_impact_against_the_window_before() -> None:
    (impact,) = planner.incident_impacts(EVENTS, TRIPS, LINKS, fill_s=100.0)
    assert (impact.link, impact.start_s, impact.end_s, impact.before_s) == ("a", 60, 120, 0)
    assert impact.outflow_before_vph == pytest.approx(120.0)  # 2 arrivals in a minute
    assert impact.outflow_during_vph == pytest.approx(180.0)  # 70, 80, 90 s
    assert impact.lost_rate_before == pytest.approx((1 / 60 + 0.04) * 60)  # per hour
    assert impact.lost_rate_during == 0.0
    assert impact.extra_vehicle_hours == pytest.approx(-(1 / 60 + 0.04))
    assert impact.filling  # no warm-up and before 100 s: the network was filling
    (warm,) = planner.incident_impacts(EVENTS, TRIPS, LINKS, warmup_s=0.0, fill_s=0.0)
    assert not warm.filling


def test_a_bin_half_inside_a_window_counts_half() -> None:
    lost = planner.lost_hours(LINKS)
    # [30, 90): half of the first bins (1/60 + 0.04) and half of a's second (0): per hour
    assert planner._lost_rate(LINKS, lost, 30.0, 90.0) == pytest.approx(
        (1 / 60 + 0.04) / 2 * 60)


@pytest.mark.parametrize(("value", "text"), [
    (1740.4, "1,740"), (52.859, "52.9"), (0.09611, "0.0961"), (2.0, "2"), (1330, "1,330"),
    (1234567.8, "1,234,568"), (0.0004, "4.00e-04"), (float("nan"), "—"), (None, "—")])
def test_numbers_are_rounded_for_people(value: float | None, text: str) -> None:
    assert num(value) == text


def test_unfinished_share() -> None:
    assert planner.unfinished({"trips_started": 200, "trips_on_road": 12}) == (12, 0.06)
    assert planner.unfinished({}) is None


def drawn(fig: Figure) -> Figure:
    FigureCanvasAgg(fig).draw()
    return fig


def test_the_heat_map_labels_every_row_and_marks_incidents() -> None:
    n, bins = 50, 3
    ids = [f"L{i}" for i in range(n)]
    ratio = np.repeat(np.linspace(0.1, 1.0, n), bins)  # L0 slowest ... L49 fastest
    links = {"link": np.repeat(ids, bins), "from": np.repeat(ids, bins),
             "to": np.repeat(ids, bins), "t_start_s": np.tile([0.0, 60.0, 120.0], n),
             "t_end_s": np.tile([60.0, 120.0, 180.0], n), "speed_ratio": ratio}
    events = {**EVENTS, "link": np.array(["L49", "L49"])}  # the fastest link: shown anyway
    fig = drawn(traffic.congestion_heatmap(links, events=events, max_links=40))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 41  # the 40 slowest and the incident's link
    assert labels[0].startswith("L0 ")
    assert labels[39].startswith("L39 ")
    assert labels[40] == "L49 (L49→L49)  ⚠ incident"
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert boxes
    assert {(b.get_x(), b.get_width(), b.get_y()) for b in boxes} == {(1.0, 1.0, 39.5)}
    assert "41 of 50 links" in ax.get_title()


def test_no_empty_reroute_panel_and_no_flat_queue_panel() -> None:
    warnings = {"hazard": np.array([0]), "delivered": np.array([True]),
                "t_hazard_s": np.array([60.0]), "latency_s": np.array([0.005]),
                "in_time": np.array([True])}
    fig = control.rerouting_over_time(EVENTS, warnings, 0.1)
    assert len(fig.axes) == 1  # warnings only: nobody rerouted
    assert "warning latency" in fig.axes[0].get_ylabel()
    reroutes = {**EVENTS, "time_s": np.array([60.0, 120.0, 90.0]),
                "kind": np.array(["incident_start", "incident_end", "reroute"]),
                "link": np.array(["a", "a", "b"])}
    assert len(control.rerouting_over_time(reroutes, warnings, 0.1).axes) == 2
    edges = {"node": np.array(["edge-0", "edge-0", "cloud"]),
             "t_start_s": np.array([0.0, 1.0, 0.0]),
             "utilisation": np.array([0.1, 0.2, 0.0]), "queue_mean": np.zeros(3)}
    flat = comms.edge_utilisation(edges)
    assert len(flat.axes) == 1
    assert "no message waited" in flat.axes[0].get_title()
    edges["queue_mean"] = np.array([0.0, 0.5, 0.0])
    assert len(comms.edge_utilisation(edges).axes) == 2


def test_the_hazard_axis_reads_in_milliseconds() -> None:
    """A hazard detected after 303 s whose warning left 5 ms later: ticks like "10 ms"."""
    record = {"hazard": 0, "link": "44", "start_s": 300.0, "cause": "incident",
              "detected_by": "bsm", "detect_s": 603.0, "edge_arrival_s": 603.0029,
              "edge_start_s": 603.0029, "edge_done_s": 603.0049}
    fig = drawn(control.hazard_to_first_reroute({"hazards": {"by_hazard": [record]}}))
    right = fig.axes[1]
    low, high = right.get_xlim()
    shown = [t.get_text() for t in right.get_xticklabels()
             if t.get_text() and low <= t.get_position()[0] <= high]
    # 2.9 .. 4.9 ms: whole decades around them, and room to the right (4.9 x 3 > 10)
    assert (low, high) == pytest.approx((1.0, 100.0))
    assert shown == ["1 ms", "10 ms", "100 ms"]
    assert "303 s (bsm)" in [t.get_text() for t in fig.axes[0].texts]


def test_the_latency_curve_is_the_histogram() -> None:
    """Bins [1, 2) ms with 3 messages and [2, 3) ms with 1: 100 %, 25 %, then 1/(2n)."""
    latency = {"kind": np.array(["bsm"]), "hop": np.array(["total"]), "count": np.array([4]),
               "lost": np.array([0]), "p50_s": np.array([0.0015]),
               "p95_s": np.array([0.0028]), "p99_s": np.array([0.0029]),
               "max_s": np.array([0.0029]), "deadline_s": np.array([0.1])}
    hist = {"kind": np.array(["bsm", "bsm"]), "hop": np.array(["total", "total"]),
            "low_s": np.array([0.001, 0.002]), "high_s": np.array([0.002, 0.003]),
            "count": np.array([3, 1])}
    fig = comms.latency_cdf(latency, hist)
    (curve,) = [line for line in fig.axes[0].lines if line.get_label().startswith("bsm")]
    assert curve.get_xdata().tolist() == pytest.approx([1.0, 2.0, 3.0])
    assert curve.get_ydata().tolist() == pytest.approx([1.0, 0.25, 0.125])
    points = comms.latency_cdf(latency)  # an older folder: the percentiles, not joined
    assert not [line for line in points.axes[0].lines if line.get_label().startswith("bsm")]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


CHECK = """<script>window.addEventListener("load", function () {
  var bad = Array.prototype.filter.call(document.images,
    function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.body.setAttribute("data-images", document.images.length + " " + bad.length);
});</script>"""


def browse(page: Path, profile: Path) -> tuple[int, int, list[str]]:
    """(images, images that did not load, console lines) of ``page`` in headless Chromium.

    A copy of the page gets a script that counts images that loaded; the console lines
    come from Chromium's log (the report itself has no script, so any is an error).
    """
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"),
                     encoding="utf-8")
    command = [str(chromium()), "--headless", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--enable-logging=stderr",
               "--v=0", "--virtual-time-budget=10000", f"--user-data-dir={profile}",
               "--dump-dom", probe.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    found = re.search(r'data-images="(\d+) (\d+)"', done.stdout)
    assert found, "the page did not finish loading"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return int(found.group(1)), int(found.group(2)), console


@pytest.mark.skipif(chromium() is None, reason="no chromium installed (apt install chromium)")
def test_the_report_loads_in_a_browser_without_errors(tmp_path: Path) -> None:
    data = {"name": "browser", "simulation": {"horizon_s": 240, "seed": 3},
            "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 300}},
            "demand": {"random": {"rate_vph": 2500}},
            "incidents": [{"link": 4, "start_s": 60, "end_s": 180, "lanes_closed": 2}],
            "control": {"policy": "dynamic_shortest", "period_s": 30},
            "output": {"link_bin_s": 60}}
    folder = tmp_path / "run"
    v2x_sim.write_results(v2x_sim.run(scenario_from_dict(data)), folder, finish=build_report)
    page = folder / "report.html"
    images, broken, console = browse(page, tmp_path / "profile")
    assert images >= 8
    assert broken == 0
    assert console == []
    # the check can fail: a damaged image and a script error are both caught
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("<main>", '<main><img src="data:image/png;base64,AAAA">'
                                           '<script>console.error("boom")</script>'),
                    encoding="utf-8")
    images, broken, console = browse(page, tmp_path / "profile")
    assert broken == 1
    assert any("boom" in line for line in console)


@pytest.mark.parametrize(("ms", "text"), [
    (0.0005, "0.5 µs"), (3.13362, "3.13 ms"), (100.0, "100 ms"), (1000.0, "1 s"),
    (100_000.0, "100 s"), (1_000_000.0, "16.7 min"), (0.0, "")])
def test_durations_read_in_the_unit_that_fits(ms: float, text: str) -> None:
    assert comms.duration_label(ms) == text
