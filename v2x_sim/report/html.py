"""One self-contained HTML page per results folder: key numbers, figures, the scenario.

`build_report` looks at what the folder holds (a run, a comparison, a replication or a
sweep), renders the figures its data allows to ``figures/*.png`` and writes
``report.html`` beside them with every figure embedded as a data URI and the CSS
inline, so the page opens anywhere, offline, as one file. Figures whose data is absent
(an older run without ``latency.csv``, say) are left out; nothing else is.
"""

from __future__ import annotations

import base64
import html
import io
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
from v2x_sim.report import figures_study as study
from v2x_sim.report import figures_traffic as traffic
from v2x_sim.report.load import RunData, StudyData, folder_kind, load_run, load_study

DPI = 100
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
table{border-collapse:collapse;font-size:.86em;margin:8px 0}
th,td{border:1px solid #e3e6eb;padding:3px 8px;text-align:right}
th{background:#eef1f5}td.t,th.t{text-align:left}tr.unclear td.d{color:#9aa1ad}
figure{margin:1.6em 0}figure img{max-width:100%;height:auto;border:1px solid #eef0f3}
figcaption{font-size:.9em;color:#4a5263;margin-top:4px}
pre{background:#f3f4f7;padding:12px;overflow-x:auto;font-size:.8em;border-radius:6px}
footer{margin-top:2em;font-size:.8em;color:#7a8293}
"""


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """A figure rendered to PNG in memory (Agg, no pyplot)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, unit: str = "", digits: int = 4) -> str:
    """A number for people: 4 significant digits, thousands separated, '—' if missing."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return "—" if value is None else str(value)
    x = float(value)
    if not math.isfinite(x):
        return "—"
    if x.is_integer() and abs(x) < 1e15:
        text = f"{int(x):,}"
    elif abs(x) >= 1e7 or abs(x) < 1e-3:
        text = f"{x:.{digits - 1}e}"
    else:
        text = f"{x:,.{max(0, digits - 1 - math.floor(math.log10(abs(x))))}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text} {unit}".strip()


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _cards(items: list[tuple[str, str]]) -> str:
    cells = "".join(f'<div class="card"><div class="v">{_esc(v)}</div>'
                    f'<div class="k">{_esc(k)}</div></div>' for k, v in items)
    return f'<div class="cards">{cells}</div>'


def _table(header: list[str], rows: list[list[str]], row_classes: list[str] | None = None,
           text_columns: int = 1, dim_from: int | None = None) -> str:
    """An HTML table, cells escaped; the first ``text_columns`` align left.

    In a row of class ``unclear``, the cells from column ``dim_from`` on are greyed.
    """
    head = "".join(f'<th class="{"t" if i < text_columns else ""}">{_esc(h)}</th>'
                   for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        css = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        cells = "".join(
            f'<td class="{"t" if i < text_columns else ""}'
            f'{" d" if dim_from is not None and i >= dim_from else ""}">{_esc(c)}</td>'
            for i, c in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _run_keys(run: RunData) -> str:
    s = run.summary
    completed = s.get("trips_completed")
    delay = s.get("delay_mean_s")
    total_delay = (delay * completed / 3600.0
                   if isinstance(delay, int | float) and isinstance(completed, int | float)
                   else None)
    tt = s.get("travel_time_mean_s")
    traffic_cards = [
        ("trips started", _num(s.get("trips_started"))),
        ("trips completed", _num(completed)),
        ("mean travel time", _num(tt / 60.0 if isinstance(tt, int | float) else None, "min")),
        ("total delay (completed trips)", _num(total_delay, "veh·h")),
        ("vehicle-hours", _num(s.get("vehicle_hours"), "veh·h")),
        ("congested link-minutes", _num(s.get("congested_link_minutes"))),
        ("reroutes followed", _num(_get(s, "rerouting.followed"))),
        ("hazard warnings in time", _num(100 * v if isinstance(
            v := _get(s, "hazards.warned_in_time_share"), int | float) else None, "%")),
    ]
    out = [_cards(traffic_cards)]
    latency = s.get("latency")
    if isinstance(latency, dict) and latency:
        rows = []
        for kind, rec in latency.items():
            if not isinstance(rec, dict):
                continue
            miss = rec.get("deadline_miss_ratio")
            rows.append([kind, _num(rec.get("sent")), _num(rec.get("lost")),
                         _num(_ms(rec.get("p50_s")), "ms"), _num(_ms(rec.get("p99_s")), "ms"),
                         _num(_ms(rec.get("deadline_s")), "ms"),
                         _num(100 * miss if isinstance(miss, int | float) else None, "%")])
        out.append("<h3>Message latency per kind</h3>")
        out.append(_table(["kind", "sent", "lost", "p50", "p99", "deadline",
                           "deadline missed (late or lost)"], rows))
    return "\n".join(out)


def _ms(seconds: Any) -> float | None:
    return seconds * 1000.0 if isinstance(seconds, int | float) else None


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
                       f"{t1 / 60:.0f} min, {which}; roadside devices in black, edge regions "
                       "shaded, incidents starred.")
        else:
            caption = "The road network with roadside devices, edge regions and incidents."
        specs.append(("network_map", caption, lambda: traffic.network_map(
            network, run.rsus, devices, links, events=run.events)))
    if has_links and links is not None:
        bin_s = float(np.median(links["t_end_s"] - links["t_start_s"]))
        specs.append(("congestion_heatmap",
                      f"Speed over free speed of every link (rows, lowest mean at the top) in "
                      f"each {bin_s:g} s bin; grey where no vehicle was on the link.",
                      lambda: traffic.congestion_heatmap(links)))
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
        specs.append(("latency_cdf",
                      "End-to-end latency per message kind through its reported p50, p95, p99 "
                      "and maximum (runs keep percentiles, not samples); dashed: deadlines.",
                      lambda: comms.latency_cdf(latency)))
        specs.append(("latency_hops",
                      "Each hop's own p50 and p99 stacked per kind, the end-to-end value as a "
                      "black tick (percentiles do not add, so the two may differ).",
                      lambda: comms.latency_hop_breakdown(latency)))
    edges = run.edges
    if edges is not None and edges["node"].size:
        specs.append(("edge_utilisation", "Share of busy cores and mean queue at each edge node "
                      "and the cloud, in one-minute means.",
                      lambda: comms.edge_utilisation(edges)))
    events, warns, advice = run.events, run.warnings, run.advice
    has_reroutes = events is not None and (events["kind"] == "reroute").any()
    if has_reroutes or (warns is not None and warns["hazard"].size):
        deadline = _get(run.summary, "latency.hazard_warning.deadline_s")
        deadline = float(deadline) if isinstance(deadline, int | float) else None
        specs.append(("rerouting_over_time",
                      "Reroutes followed per minute (dotted: incidents); below, each hazard "
                      "warning's latency from detection to delivery, lost ones as crosses; "
                      "at the bottom, each piece of route advice's latency from decision "
                      "to delivery and what the vehicle did with it.",
                      lambda: comms.rerouting_over_time(events, warns, deadline, advice)))
    if comms.has_hazard_records(run.summary):
        specs.append(("hazard_to_first_reroute",
                      "Per hazard, from its start: detection, arrival at the edge, "
                      "processing, warning sent, and the first reroute any vehicle followed "
                      "once the edge had confirmed it (not necessarily because of it).",
                      lambda: comms.hazard_to_first_reroute(run.summary, events)))
    return specs


def _figure_html(folder: Path, specs: list[FigureSpec]) -> str:
    out_dir = folder / "figures"
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise InputFileError(out_dir, f"cannot create the figures folder: {exc.strerror}"
                             ) from None
    parts = []
    for stem, caption, build in specs:
        data = png_bytes(build())
        write_bytes_atomic(out_dir / f"{stem}.png", data)
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        parts.append(f'<figure id="{_esc(stem)}"><img src="{uri}" alt="{_esc(caption)}">'
                     f"<figcaption>{_esc(caption)}</figcaption></figure>")
    return "\n".join(parts)


def _page(title: str, lead: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{_esc(title)}</h1><p class=\"lead\">{_esc(lead)}</p>{body}"
            f"<footer>Made by v2x-sim {_esc(__version__)} from the files in this folder."
            f"</footer></main></body></html>\n")


def _run_page(run: RunData) -> str:
    name = run.scenario.get("name") or run.folder.name
    sim = run.summary.get("simulation") or {}
    facts = ", ".join(p for p in (
        f"seed {sim['seed']}" if "seed" in sim else "",
        f"horizon {_num(sim.get('horizon_s'), 's')}" if "horizon_s" in sim else "",
        f"{_num(sim.get('network_km'), 'km')} of road" if "network_km" in sim else "",
        f"policy {_get(run.summary, 'rerouting.policy')}"
        if _get(run.summary, "rerouting.policy") else "") if p)
    lead = " — ".join(str(x) for x in (run.scenario.get("description") or "", facts) if x)
    body = ["<h2>Key numbers</h2>", _run_keys(run), "<h2>Figures</h2>",
            _figure_html(run.folder, _run_figures(run)),
            "<h2>Scenario as run</h2>", f"<pre>{_esc(run.scenario_text)}</pre>"]
    return _page(f"Run report: {name}", lead, "\n".join(body))


def _interval(mean: Any, low: Any, high: Any) -> str:
    if not (isinstance(low, float) and math.isfinite(low)):
        return _num(mean)
    return f"{_num(mean)} [{_num(low)}, {_num(high)}]"


def _study_table(data: StudyData) -> str:
    t = data.table
    leading = data.parameters + ["metric"] + (["arm"] if "arm" in t else [])
    bases = study.baselines_of(t)
    header = leading + ["n", "mean [95 % interval]"] + [f"difference vs {b} [95 %]"
                                                          for b in bases]
    rows, classes = [], []
    for i in range(t["metric"].size):
        row = [str(t[c][i]) for c in leading] + [_num(t["n"][i]),
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
    return _table(header, rows, classes, text_columns=len(leading),
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
    facts = [("runs per arm", _num(meta.get("replications"))),
             ("seeds", ", ".join(str(s) for s in meta.get("seeds", [])) or "—"),
             ("confidence", _num(meta.get("confidence"))),
             ("runs reused from earlier", _num(meta.get("skipped_runs")))]
    if data.kind == "comparison":
        facts.insert(0, ("policies", ", ".join(map(str, meta.get("policies", []))) or "—"))
        baseline = meta.get("baseline")
        facts.insert(1, ("baseline", ", ".join(map(str, baseline)) if isinstance(
            baseline, list) else str(baseline or "—")))
    if data.kind == "sweep":
        facts.insert(0, ("parameters", ", ".join(data.parameters) or "—"))
        facts.insert(1, ("points", _num(meta.get("points"))))
    how = ("one scenario on several seeds" if data.kind == "replication"
           else "every arm on the same seeds")
    lead = (f"{data.kind.capitalize()} of scenario {data.scenario_name or '?'}: {how}; "
            "intervals are Student-t over the replications.")
    body = ["<h2>Study</h2>", _cards(facts), "<h2>Figures</h2>",
            _figure_html(data.folder, specs),
            f"<h2>Table ({_esc(data.kind)}.csv)</h2>", _study_table(data)]
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
