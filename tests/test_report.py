"""Reports from results folders: loaders, figures (tables in, Figure out), the HTML page.

Small results folders are made here: a 3x3 grid with an incident for 300 s, a two-arm
comparison on two seeds and a two-point sweep. Every figure must render to a PNG of the
size its figure declares; the page must be self-contained and escape what it shows;
old folders (fewer files, fewer columns) must still make a report; damaged ones must
fail naming the file.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

import v2x_sim
from v2x_sim._core.errors import InputFileError
from v2x_sim.report import build_report, folder_kind, load_run, load_study
from v2x_sim.report import figures_comms as comms
from v2x_sim.report import figures_control as control
from v2x_sim.report import figures_study as study
from v2x_sim.report import figures_traffic as traffic
from v2x_sim.report.load import RunData
from v2x_sim.scenario import scenario_from_dict

DPI = 50
DESCRIPTION = "Tiny grid <with> an incident & a report"


def grid(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "report-grid",
        "description": DESCRIPTION,
        "simulation": {"horizon_s": 300, "seed": 2},
        "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 300}},
        "demand": {"random": {"rate_vph": 2500}},
        "incidents": [{"link": 4, "start_s": 60, "end_s": 240, "lanes_closed": 2}],
        "edge": {"nodes": 2, "cores": 2},
        "control": {"policy": "dynamic_shortest", "period_s": 30},
        "output": {"link_bin_s": 60},
    }
    data.update(extra)
    return data


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    result = v2x_sim.build_world(scenario_from_dict(grid())).run()
    v2x_sim.write_results(result, folder)
    return folder


@pytest.fixture(scope="module")
def run(run_folder: Path) -> RunData:
    return load_run(run_folder)


@pytest.fixture(scope="module")
def compare_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compare")
    v2x_sim.compare(scenario_from_dict(grid()), ["none", "dynamic_shortest"], replications=2,
                    out_dir=folder, jobs=1)
    return folder


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sweep")
    data = grid(sweep={"parameters": {"edge.cores": [1, 2],
                                      "channels.uu.profile": ["nr", "lte"]},
                       "replications": 2},
                simulation={"horizon_s": 120, "seed": 2})
    v2x_sim.sweep(scenario_from_dict(data), out_dir=folder, jobs=1)
    return folder


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def check_png(fig: Figure, size_in: tuple[float, float] | None = None) -> None:
    """Renders to a non-blank PNG of the size the figure declares (and ``size_in``)."""
    assert isinstance(fig, Figure)
    width_in, height_in = fig.get_size_inches()
    if size_in is not None:
        assert (width_in, height_in) == pytest.approx(size_in)
    data = render(fig)
    assert png_size(data) == (round(width_in * DPI), round(height_in * DPI))
    pixels = imread(io.BytesIO(data))
    assert pixels[..., :3].std() > 0.02  # not one flat colour
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
    assert shown
    for ax in shown:  # panels sharing a time axis label it once, at the bottom
        assert ax.get_xlabel() or ax.get_ylabel(), f"axes {ax.get_title()!r} has no label"
    assert any(ax.get_xlabel() for ax in shown)


RUN_FIGURES: dict[str, tuple[Callable[[RunData], Figure], tuple[float, float] | None]] = {
    "network_map": (lambda r: traffic.network_map(r.network, r.rsus, r.devices, r.links,
                                                  events=r.events), None),
    "network_map_window": (lambda r: traffic.network_map(r.network, None, None, r.links,
                                                         (60.0, 180.0)), None),
    "congestion_heatmap": (lambda r: traffic.congestion_heatmap(r.links, events=r.events),
                           None),
    "congestion_heatmap_by_id": (lambda r: traffic.congestion_heatmap(r.links, "id"), None),
    "travel_time_distribution": (lambda r: traffic.travel_time_distribution(r.trips),
                                 (10, 4.5)),
    "cumulative_trips": (lambda r: traffic.cumulative_trips(r.trips, 60.0), (9, 4)),
    "latency_cdf": (lambda r: comms.latency_cdf(r.latency, r.latency_hist), (9, 5.5)),
    "latency_cdf_percentiles_only": (lambda r: comms.latency_cdf(r.latency), (9, 5.5)),
    "latency_hop_breakdown": (lambda r: comms.latency_hop_breakdown(r.latency), None),
    "edge_utilisation": (lambda r: comms.edge_utilisation(r.edges), None),
    "rerouting_over_time": (lambda r: control.rerouting_over_time(r.events, r.warnings, 0.1),
                            (9, 6)),
    "rerouting_without_warnings": (lambda r: control.rerouting_over_time(r.events), (9, 3.5)),
    "hazard_to_first_reroute": (lambda r: control.hazard_to_first_reroute(r.summary,
                                                                           r.events), None),
}


def test_the_run_folder_has_every_table(run: RunData) -> None:
    for name in ("trips", "links", "events", "latency", "edges", "rsus", "devices",
                 "warnings", "network"):
        assert getattr(run, name) is not None, name
    assert run.scenario["name"] == "report-grid"
    assert run.links["speed_ratio"].dtype == np.float64
    assert np.isnan(run.trips["arrive_s"]).any()  # trips still on the road: empty cells
    assert control.has_hazard_records(run.summary)


@pytest.mark.parametrize("name", sorted(RUN_FIGURES))
def test_each_run_figure_renders(run: RunData, name: str) -> None:
    build, size = RUN_FIGURES[name]
    check_png(build(run), size)


def test_the_worst_window_is_the_slowest_stretch_of_bins() -> None:
    links = {"link": np.array([0, 0, 0, 0, 1, 1, 1, 1]),
             "t_start_s": np.array([0, 300, 600, 900] * 2, dtype=float),
             "t_end_s": np.array([300, 600, 900, 1200] * 2, dtype=float),
             "speed_ratio": np.array([1.0, 0.9, 0.2, 0.3, 1.0, np.nan, 0.4, 0.5])}
    assert traffic.worst_window(links, 600) == (600.0, 1200.0)
    assert traffic.worst_window(links, 5000) == (0.0, 1200.0)  # longer than the run
    means = traffic.link_mean_ratio(links, (600.0, 1200.0))
    assert means == pytest.approx({"0": 0.25, "1": 0.45})  # keyed by id as text


def test_the_map_without_road_geometry_still_draws_devices(run: RunData) -> None:
    fig = traffic.network_map(None, run.rsus, run.devices, run.links, events=run.events)
    check_png(fig)
    assert "no road geometry" in fig.get_suptitle()


def test_the_map_draws_a_link_along_its_shape_shifted_to_its_right() -> None:
    # link 0 runs 0,0 -> 100,0 along a bend through 50,40; link 1 has no shape
    network = {"link": np.array(["a", "b"]), "x0_m": np.array([0.0, 0.0]),
               "y0_m": np.array([0.0, 100.0]), "x1_m": np.array([100.0, 100.0]),
               "y1_m": np.array([0.0, 100.0]), "lanes": np.array([1, 1]),
               "shape": np.array(["0,0 50,40 100,0", ""])}
    fig = traffic.network_map(network, None, None, None)
    lines = [seg for coll in fig.axes[0].collections for seg in coll.get_segments()]
    bent = next(seg for seg in lines if len(seg) == 3)
    straight = next(seg for seg in lines if len(seg) == 2)
    # offset = 0.004 x span (span = 100 m) = 0.4 m; the middle vertex's two segment
    # normals (0.8,-0.6) and (-0.8,-0.6) average to (0,-0.6), rescaled to (0,-1): 40-0.4
    assert bent[1] == pytest.approx([50.0, 39.6])
    # first vertex: normal of (50,40)/64.03 rotated right = (0.6247,-0.7809) x 0.4
    assert bent[0] == pytest.approx([0.2499, -0.3123], abs=1e-3)
    # the straight eastbound link shifts 0.4 m south (to its right)
    assert straight[:, 1] == pytest.approx([99.6, 99.6])


def test_comparison_figure_and_table(compare_folder: Path) -> None:
    data = load_study(compare_folder)
    assert data.kind == "comparison"
    assert study.baselines_of(data.table) == ["none"]
    assert data.table["diff_vs_none_unclear"].dtype == bool
    metrics = study.pick_metrics(data.table)
    assert 0 < len(metrics) <= study.MAX_PANELS
    fig = study.comparison_figure(data.table)
    check_png(fig, (10, max(3.0, 0.5 + len(metrics) * (0.6 + 0.28 * 2))))


def test_sweep_figure_one_line_per_other_parameter(sweep_folder: Path) -> None:
    data = load_study(sweep_folder)
    assert data.kind == "sweep"
    assert data.parameters == ["edge.cores", "channels.uu.profile"]
    assert set(data.table["edge.cores"]) == {"1", "2"}
    fig = study.sweep_figure(data.table, data.parameters)
    check_png(fig)
    first = fig.axes[0]
    assert first.get_xlabel() == "edge.cores"  # the numeric parameter goes across
    labels = {line.get_label() for line in first.get_lines()}
    assert {"channels.uu.profile=nr", "channels.uu.profile=lte"} <= labels


def test_the_study_table_reads_the_same_from_json_alone(sweep_folder: Path,
                                                        tmp_path: Path) -> None:
    shutil.copy(sweep_folder / "sweep.json", tmp_path / "sweep.json")
    from_json = load_study(tmp_path)
    from_csv = load_study(sweep_folder)
    assert list(from_json.table) == list(from_csv.table)
    for name in ("metric", "edge.cores", "channels.uu.profile"):
        assert from_json.table[name].tolist() == from_csv.table[name].tolist()
    # the CSV rounds to 6 decimals
    np.testing.assert_allclose(from_json.table["mean"], from_csv.table["mean"], rtol=1e-5,
                               atol=1e-6)


def img_sources(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_run_report_is_self_contained(run_folder: Path, run: RunData) -> None:
    path = build_report(run_folder)
    assert path == run_folder / "report.html"
    page = path.read_text(encoding="utf-8")
    assert "report-grid" in page
    assert html_escaped(DESCRIPTION) in page
    assert DESCRIPTION not in page
    assert f"{run.summary['trips_started']:,}" in page
    assert f"{run.summary['trips_completed']:,}" in page
    assert "reroutes followed" in page
    assert "hazard_warning" in page
    sources = img_sources(page)
    assert len(sources) >= 8
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        png_size(base64.b64decode(src.split(",", 1)[1]))
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page
    assert "<script" not in page
    pngs = sorted(p.name for p in (run_folder / "figures").glob("*.png"))
    assert "network_map.png" in pngs
    assert "latency_cdf.png" in pngs
    assert not list((run_folder / "figures").glob(".*"))  # no temporary files left
    assert "v2x_sim_version" in page  # the resolved scenario YAML


def test_figures_drawn_by_worker_processes_are_the_serial_bytes(
        run_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report draws its figures on forked workers; the page must not depend on it."""
    pages = {}
    for workers in ("1", "3"):
        copy = tmp_path / f"workers{workers}"
        shutil.copytree(run_folder, copy)
        monkeypatch.setenv("V2X_SIM_REPORT_WORKERS", workers)
        pages[workers] = build_report(copy).read_bytes()
        figures = {p.name: p.read_bytes() for p in (copy / "figures").glob("*.png")}
        pages[workers + "figures"] = figures
    assert len(pages["1figures"]) >= 8
    assert pages["3figures"] == pages["1figures"]
    assert pages["3"].replace(b"workers3", b"workers1") == pages["1"]


def test_a_figure_that_fails_in_a_worker_fails_as_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from v2x_sim.report.render import render_all

    def broken() -> Figure:
        raise InputFileError(Path("links.csv"), "a planted failure", line=7)

    def fine() -> Figure:
        fig = Figure(figsize=(2, 2))
        fig.subplots().plot([0, 1], [1, 0])
        return fig

    monkeypatch.setenv("V2X_SIM_REPORT_WORKERS", "2")
    assert len(render_all([fine, fine])) == 2
    with pytest.raises(InputFileError, match="a planted failure"):
        render_all([fine, broken])


ORPHANED_WORKERS = """
import os, signal, threading, time
from matplotlib.figure import Figure
from v2x_sim.report.render import render_all

def slow():
    time.sleep(1.0)  # the parent is gone by the time this figure's bytes go back
    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [1, 0])
    return fig

threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
render_all([slow, slow])
"""


def test_a_run_killed_while_drawing_prints_no_worker_traceback() -> None:
    """Killing a run while its figures are drawn leaves the workers orphaned; each
    meets a closed pipe as it sends its figure back and must end without printing a
    traceback on the user's terminal (stderr is read until the last worker closes it)."""
    env = {**os.environ, "V2X_SIM_REPORT_WORKERS": "2"}
    proc = subprocess.run([sys.executable, "-c", ORPHANED_WORKERS], env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_study_reports(compare_folder: Path, sweep_folder: Path) -> None:
    for folder, kind in ((compare_folder, "comparison"), (sweep_folder, "sweep")):
        assert folder_kind(folder) == kind
        page = build_report(folder).read_text(encoding="utf-8")
        assert "report-grid" in page
        assert "<table>" in page
        assert "travel_time_mean_s" in page
        assert img_sources(page)
        assert all(s.startswith("data:image/png;base64,")
                                         for s in img_sources(page))
    assert "difference vs none" in (compare_folder / "report.html").read_text()


def strip_column(path: Path, column: str) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    keep = [i for i, name in enumerate(rows[0]) if name != column]
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])


def test_a_folder_from_an_older_run_still_reports(run_folder: Path, tmp_path: Path) -> None:
    old = copy_run(run_folder, tmp_path / "old")
    for name in ("latency.csv", "warnings.csv", "network.csv", "edges.csv"):
        (old / name).unlink()
    strip_column(old / "trips.csv", "reroutes")
    data = load_run(old)
    assert data.latency is None
    assert data.network is None
    assert "reroutes" not in data.trips
    page = build_report(old).read_text(encoding="utf-8")
    assert 'id="latency_cdf"' not in page
    assert 'id="edge_utilisation"' not in page
    assert 'id="network_map"' in page
    assert "no network.csv" in page
    assert 'id="travel_time_distribution"' in page


def test_a_run_with_only_the_required_files(run_folder: Path, tmp_path: Path) -> None:
    for name in ("summary.json", "scenario.yaml"):
        shutil.copy(run_folder / name, tmp_path / name)
    page = build_report(tmp_path).read_text(encoding="utf-8")
    assert "report-grid" in page
    # only the hazard timeline, drawn from summary.json alone, is left
    assert re.findall(r'<figure id="([^"]+)"', page) == ["hazard_to_first_reroute"]


def copy_run(run_folder: Path, to: Path) -> Path:
    """The run's own files, without a report made by another test."""
    shutil.copytree(run_folder, to, ignore=shutil.ignore_patterns("figures", "report.html"))
    return to


def test_a_missing_summary_names_the_file(run_folder: Path, tmp_path: Path) -> None:
    copy_run(run_folder, tmp_path / "r")
    (tmp_path / "r" / "summary.json").unlink()
    with pytest.raises(InputFileError, match=r"summary\.json"):
        build_report(tmp_path / "r")


def test_a_ragged_links_csv_names_file_and_line(run_folder: Path, tmp_path: Path) -> None:
    copy_run(run_folder, tmp_path / "r")
    links = tmp_path / "r" / "links.csv"
    lines = links.read_text().splitlines()
    lines[3] = lines[3] + ",7"
    links.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=r"links\.csv, line 4") as info:
        build_report(tmp_path / "r")
    assert info.value.line == 4
    assert not (tmp_path / "r" / "report.html").exists()


@pytest.mark.parametrize(("name", "text", "pattern"), [
    ("summary.json", '{"trips_started": 1,\n  oops}', r"summary\.json, line 2: not valid JSON"),
    ("scenario.yaml", "name: x\n  bad: [\n", r"scenario\.yaml, line \d: not valid YAML"),
    ("links.csv", "link,from,to\n1,2,3\n", r"links\.csv, line 1.*'t_start_s' is missing"),
    ("trips.csv", "id,id\n", r"trips\.csv, line 1.*more than once"),
])
def test_corrupt_files_name_the_file(run_folder: Path, tmp_path: Path, name: str, text: str,
                                     pattern: str) -> None:
    copy_run(run_folder, tmp_path / "r")
    (tmp_path / "r" / name).write_text(text)
    with pytest.raises(InputFileError, match=pattern):
        load_run(tmp_path / "r")


def test_study_json_is_required(compare_folder: Path, tmp_path: Path) -> None:
    shutil.copy(compare_folder / "comparison.csv", tmp_path / "comparison.csv")
    assert folder_kind(tmp_path) == "comparison"
    with pytest.raises(InputFileError, match=r"comparison\.json"):
        build_report(tmp_path)


def test_an_empty_folder_is_not_a_results_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not a results folder"):
        folder_kind(tmp_path)


def chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(chromium() is None, reason="no chromium installed")
def test_report_renders_in_a_headless_browser(run_folder: Path, tmp_path: Path) -> None:
    page = build_report(run_folder)
    shot = tmp_path / "shot.png"
    command = [str(chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
               "--window-size=1280,2000", page.resolve().as_uri()]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert png_size(data) == (1280, 2000)
    pixels = imread(io.BytesIO(data))[..., :3]
    assert pixels.std() > 0.05  # text and figures, not a blank page
    # the figures are there: many distinct colours, not just black text on white
    assert len(np.unique((pixels * 15).round().reshape(-1, 3), axis=0)) > 50
