"""One self-contained HTML page per results folder: key numbers, figures, the scenario.

`build_report` looks at what the folder holds (a run, a comparison, a replication or a
sweep), renders the figures its data allows to ``figures/*.png`` and writes
``report.html`` beside them with every figure embedded as a data URI and the CSS
inline, so the page opens anywhere, offline, as one file. Figures whose data is absent
(an older run without ``latency.csv``, say) are left out; nothing else is.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from v2x_sim._core.atomic import write_bytes_atomic, write_text_atomic
from v2x_sim._core.errors import InputFileError
from v2x_sim._core.version import __version__
from v2x_sim.report import figures_comms as comms
from v2x_sim.report import figures_control as control
from v2x_sim.report import figures_faults as faults
from v2x_sim.report import figures_study as study
from v2x_sim.report import figures_traffic as traffic
from v2x_sim.report.cards import cards, esc, get, num, run_key_numbers, table
from v2x_sim.report.load import RunData, StudyData, folder_kind, load_run, load_study
from v2x_sim.report.render import render_all

FigureSpec = tuple[str, str, Callable[[], Figure]]  # file stem, caption, builder

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
 background:#f6f7f9;color:#1d2330;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{margin:0 0 4px;font-size:1.7em}h2{margin-top:1.8em;border-bottom:2px solid #e3e6eb;
 padding-bottom:4px}.lead{color:#4a5263;margin:0 0 1em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px}
.card{border:1px solid #e3e6eb;border-radius:6px;padding:8px 12px;background:#fbfcfd}
.card .v{font-size:1.35em;font-weight:600;overflow-wrap:anywhere}
.card .k{font-size:.82em;color:#5b6375}
.card.warn{border-color:#b35806;background:#fff4e6}.card .n{font-size:.78em;color:#b35806}
.note{font-size:.86em;color:#4a5263;margin:2px 0}
table{border-collapse:collapse;font-size:.86em;margin:8px 0}
th,td{border:1px solid #e3e6eb;padding:3px 8px;text-align:right}
th{background:#eef1f5}td.t,th.t{text-align:left}tr.unclear td.d{color:#9aa1ad}
figure{margin:1.6em 0}figure img{max-width:100%;height:auto;border:1px solid #eef0f3}
figcaption{font-size:.9em;color:#4a5263;margin-top:4px}
pre{background:#f3f4f7;padding:12px;overflow-x:auto;font-size:.8em;border-radius:6px}
footer{margin-top:2em;font-size:.8em;color:#7a8293}
"""


def _run_figures(run: RunData) -> list[FigureSpec]:
    sim = run.scenario.get("simulation") or {}
    warmup = float(sim.get("warmup_s") or 0.0)
    specs: list[FigureSpec] = []
    links, network, devices = run.links, run.network, run.devices
    has_links = links is not None and links["link"].size > 0
    if (network is not None and network["link"].size) or (devices is not None
                                                          and devices["x_m"].size):
        if network is None or not network["link"].size:
            caption = ("This folder has no network.csv (older runs lack it), so the map shows "
                       "the roadside devices and edge regions without roads.")
        elif has_links and links is not None:
            t0, t1 = traffic.worst_window(links)
            which = ("the 15 minutes with the lowest network mean"
                     if t1 - t0 >= traffic.WORST_WINDOW_S else "the whole run")
            caption = (f"Roads coloured by mean speed over free speed in {t0 / 60:.0f}–"
                       f"{t1 / 60:.0f} min, {which} (dark: slow, yellow: free flow; each "
                       "direction drawn on its right); roadside devices in black, edge "
                       "regions shaded, incidents starred.")
        else:
            caption = "The road network with roadside devices, edge regions and incidents."
        specs.append(("network_map", caption, lambda: traffic.network_map(
            network, run.rsus, devices, links, events=run.events)))
    if has_links and links is not None:
        bin_s = float(np.median(links["t_end_s"] - links["t_start_s"]))
        n_links = np.unique(links["link"]).size
        rows = ("every link" if n_links <= traffic.MAX_HEATMAP_LINKS else
                f"the {traffic.MAX_HEATMAP_LINKS} links (of {n_links:,}) with the lowest mean")
        specs.append(("congestion_heatmap",
                      f"Speed over free speed of {rows} (rows, lowest mean at the top) in "
                      f"each {bin_s:g} s bin; grey where no vehicle was on the link; "
                      "incidents outlined on their link's row.",
                      lambda: traffic.congestion_heatmap(links, events=run.events)))
    trips = run.trips
    if trips is not None and np.isfinite(trips["travel_time_s"]).any():
        specs.append(("travel_time_distribution",
                      f"Completed trips departing after the {warmup:g} s warm-up: travel time "
                      "per class (log count axis) and delay per class (boxes: quartiles).",
                      lambda: traffic.travel_time_distribution(trips, warmup)))
    if trips is not None and trips["depart_s"].size:
        specs.append(("cumulative_trips", "Trips started and completed over time; the shaded "
                      "gap is the number on the road.",
                      lambda: traffic.cumulative_trips(trips, warmup)))
    latency = run.latency
    if latency is not None and (latency["hop"] == "total").any():
        hist = run.latency_hist
        specs.append(("latency_cdf",
                      ("End-to-end latency per message kind: the share of delivered messages "
                       "slower than each latency, drawn from the stored histograms (log "
                       "bins 4.7 % wide); the curve crosses 50 % at the median and 1 % at "
                       "the p99; dashed: deadlines." if hist is not None else
                       "End-to-end latency per message kind: its reported p50, p95, p99 and "
                       "maximum (this folder has no latency_hist.csv); dashed: deadlines."),
                      lambda: comms.latency_cdf(latency, hist)))
        specs.append(("latency_hops",
                      "Each hop's own p50 and p99 stacked per kind, the end-to-end value as a "
                      "black tick (percentiles do not add, so the two may differ).",
                      lambda: comms.latency_hop_breakdown(latency)))
    edges = run.edges
    if edges is not None and edges["node"].size:
        specs.append(("edge_utilisation", "Share of busy cores and mean queue at each edge node "
                      "and the cloud, in one-minute means (the queue panel only when some "
                      "message waited).",
                      lambda: comms.edge_utilisation(edges)))
    events, warns, advice = run.events, run.warnings, run.advice
    has_reroutes = events is not None and (events["kind"] == "reroute").any()
    if has_reroutes or (warns is not None and warns["hazard"].size):
        deadline = get(run.summary, "latency.hazard_warning.deadline_s")
        deadline = float(deadline) if isinstance(deadline, int | float) else None
        specs.append(("rerouting_over_time",
                      "One panel each, where there is data: reroutes followed per minute; "
                      "each hazard warning's latency from detection to delivery (lost ones "
                      "as crosses); each piece of route advice's latency from decision to "
                      "delivery and what the vehicle did with it. Dotted: incidents.",
                      lambda: control.rerouting_over_time(events, warns, deadline, advice)))
    if faults.has_faults(run.summary):
        specs.append(("fault_timeline",
                      "Fault windows over time with the messages each dropped (lost, reason "
                      "outage); below, the queue of every node a window loaded (a failed edge "
                      "node, its fallback, the cloud), in one-minute means on a log axis; "
                      "shaded: the windows. resilience in summary.json has the numbers.",
                      lambda: faults.fault_timeline(run.summary, edges)))
    if control.has_hazard_records(run.summary):
        specs.append(("hazard_to_first_reroute",
                      "Per hazard: left, how long until it was detected (and by what); "
                      "right, from detection, the report at the edge, processing, the "
                      "warning sent, and the first reroute any vehicle followed after it "
                      "(not necessarily because of it).",
                      lambda: control.hazard_to_first_reroute(run.summary, events)))
    return specs


def _figure_html(folder: Path, specs: list[FigureSpec]) -> str:
    out_dir = folder / "figures"
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise InputFileError(out_dir, f"cannot create the figures folder: {exc.strerror}"
                             ) from None
    parts = []
    pngs = render_all([build for _, _, build in specs])
    for (stem, caption, _), data in zip(specs, pngs, strict=True):
        write_bytes_atomic(out_dir / f"{stem}.png", data)
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        parts.append(f'<figure id="{esc(stem)}"><img src="{uri}" alt="{esc(caption)}">'
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    return "\n".join(parts)


def _page(title: str, lead: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{esc(title)}</h1><p class=\"lead\">{esc(lead)}</p>{body}"
            f"<footer>Made by v2x-sim {esc(__version__)} from the files in this folder."
            f"</footer></main></body></html>\n")


def _run_page(run: RunData) -> str:
    name = run.scenario.get("name") or run.folder.name
    sim = run.summary.get("simulation") or {}
    facts = ", ".join(p for p in (
        f"seed {sim['seed']}" if "seed" in sim else "",
        f"horizon {num(sim.get('horizon_s'), 's')}" if "horizon_s" in sim else "",
        f"{num(sim.get('network_km'), 'km')} of road" if "network_km" in sim else "",
        f"policy {get(run.summary, 'rerouting.policy')}"
        if get(run.summary, "rerouting.policy") else "") if p)
    lead = " — ".join(str(x) for x in (run.scenario.get("description") or "", facts) if x)
    body = ["<h2>Key numbers</h2>", run_key_numbers(run), "<h2>Figures</h2>",
            _figure_html(run.folder, _run_figures(run)),
            "<h2>Scenario as run</h2>", f"<pre>{esc(run.scenario_text)}</pre>"]
    return _page(f"Run report: {name}", lead, "\n".join(body))


def _interval(mean: Any, low: Any, high: Any) -> str:
    if not (isinstance(low, float) and math.isfinite(low)):
        return num(mean)
    return f"{num(mean)} [{num(low)}, {num(high)}]"


def _study_table(data: StudyData) -> str:
    t = data.table
    leading = data.parameters + ["metric"] + (["arm"] if "arm" in t else [])
    bases = study.baselines_of(t)
    header = leading + ["n", "mean [95 % interval]"] + [f"difference vs {b} [95 %]"
                                                          for b in bases]
    rows, classes = [], []
    for i in range(t["metric"].size):
        row = [str(t[c][i]) for c in leading] + [num(t["n"][i]),
                                                  _interval(t["mean"][i], t["ci_low"][i],
                                                            t["ci_high"][i])]
        unclear = False
        for b in bases:
            if "arm" in t and str(t["arm"][i]) == b:
                row.append("baseline")
                continue
            row.append(_interval(t[f"diff_vs_{b}"][i], t[f"diff_vs_{b}_ci_low"][i],
                                 t[f"diff_vs_{b}_ci_high"][i]))
            flag = t.get(f"diff_vs_{b}_unclear")
            unclear |= bool(flag[i]) if flag is not None else False
        rows.append(row)
        classes.append("unclear" if unclear else "")
    return table(header, rows, classes, text_columns=len(leading),
                  dim_from=len(leading) + 2)


COMMS_METRICS = ("latency.hazard_warning.p99_s", "latency.perception.p99_s",
                 "latency.bsm.p99_s", "latency.route_advice.p99_s",
                 "hazards.warned_in_time_share", "latency.bsm.deadline_miss_ratio")


def _study_page(data: StudyData) -> str:
    t, meta = data.table, data.meta
    present = set(t["metric"][np.isfinite(t["mean"])].tolist())  # metrics with a value
    specs: list[FigureSpec] = []
    if t["metric"].size and data.kind == "sweep":
        specs.append(("sweep", "Each headline metric against the swept parameter: mean over "
                      "the replications with its 95 % interval, one line per value of the "
                      "other parameters.", lambda: study.sweep_figure(t, data.parameters)))
    elif t["metric"].size:
        traffic_metrics = [m for m in study.pick_metrics(t) if m not in COMMS_METRICS]
        comms_metrics = [m for m in COMMS_METRICS if m in present]
        what = ("each arm's mean with its 95 % interval and its paired difference to the "
                "baseline (hollow: interval contains zero)" if study.baselines_of(t)
                else "the mean with its 95 % interval")
        if traffic_metrics:
            specs.append(("comparison_traffic", f"Traffic: {what}.",
                          lambda: study.comparison_figure(t, traffic_metrics)))
        if comms_metrics:
            specs.append(("comparison_comms", f"Communication: {what}.",
                          lambda: study.comparison_figure(t, comms_metrics)))
    facts = [("runs per arm", num(meta.get("replications"))),
             ("seeds", ", ".join(str(s) for s in meta.get("seeds", [])) or "—"),
             ("confidence", num(meta.get("confidence"))),
             ("runs reused from earlier", num(meta.get("skipped_runs")))]
    if data.kind == "comparison":
        facts.insert(0, ("policies", ", ".join(map(str, meta.get("policies", []))) or "—"))
        if meta.get("scenarios"):  # a scenario comparison: each arm's own policy above
            facts.insert(0, ("scenarios", ", ".join(map(str, meta["scenarios"]))))
        baseline = meta.get("baseline")
        facts.insert(1, ("baseline", ", ".join(map(str, baseline)) if isinstance(
            baseline, list) else str(baseline or "—")))
    if data.kind == "sweep":
        facts.insert(0, ("parameters", ", ".join(data.parameters) or "—"))
        facts.insert(1, ("points", num(meta.get("points"))))
    how = ("one scenario on several seeds" if data.kind == "replication"
           else "every arm on the same seeds")
    plural = "s" if meta.get("scenarios") else ""
    lead = (f"{data.kind.capitalize()} of scenario{plural} {data.scenario_name or '?'}: {how}; "
            "intervals are Student-t over the replications.")
    body = ["<h2>Study</h2>", cards(facts), "<h2>Figures</h2>",
            _figure_html(data.folder, specs),
            f"<h2>Table ({esc(data.kind)}.csv)</h2>", _study_table(data)]
    title = f"{data.kind.capitalize()} report: {data.scenario_name or data.folder.name}"
    return _page(title, lead, "\n".join(body))


def build_report(folder: str | Path) -> Path:
    """Render the figures of a results folder and write its ``report.html``.

    Args:
        folder: a run folder or a comparison, replication or sweep folder.

    Returns:
        The path of ``report.html``.

    Raises:
        InputFileError: the folder is not a results folder, a required file is missing
            or a file is malformed (named with its line where possible).
    """
    path = Path(folder)
    kind = folder_kind(path)
    page = _run_page(load_run(path)) if kind == "run" else _study_page(load_study(path))
    return write_text_atomic(path / "report.html", page)
