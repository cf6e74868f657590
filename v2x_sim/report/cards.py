"""The report's key numbers: headline cards, the worst links, incidents, latency per kind.

Numbers are rounded for people (three significant figures, never fewer digits than
the integer part: 1,740 vehicle-km, 52.9 vehicle-hours, 0.0963); each value carries its
unit once, in the value or in the label, never both.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from v2x_sim.report import planner
from v2x_sim.report.load import RunData


def esc(value: Any) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def num(value: Any, unit: str = "", digits: int = 3) -> str:
    """A number for people: ``digits`` significant figures, thousands separated, '—' if none.

    Integers (and floats of 1,000 or more) show no decimals; smaller floats show
    ``digits`` significant figures without trailing zeros; tiny or huge ones use
    exponent form.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return "—" if value is None else str(value)
    x = float(value)
    if not math.isfinite(x):
        return "—"
    if (x.is_integer() and abs(x) < 1e15) or 1e3 <= abs(x) < 1e9:
        text = f"{round(x):,}"
    elif abs(x) >= 1e9 or abs(x) < 1e-3:
        text = f"{x:.{digits - 1}e}"
    else:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        text = f"{x:,.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text} {unit}".strip()


def get(data: dict[str, Any], dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; None where a key is missing."""
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def cards(items: Sequence[tuple[str, ...]]) -> str:
    """A grid of cards (value above label); a third item is a note, and flags the card."""
    cells = []
    for item in items:
        label, value = item[0], item[1]
        note = item[2] if len(item) > 2 else ""
        css = "card warn" if note else "card"
        extra = f'<div class="n">{esc(note)}</div>' if note else ""
        cells.append(f'<div class="{css}"><div class="v">{esc(value)}</div>'
                     f'<div class="k">{esc(label)}</div>{extra}</div>')
    return f'<div class="cards">{"".join(cells)}</div>'


def table(header: list[str], rows: list[list[str]], row_classes: list[str] | None = None,
          text_columns: int = 1, dim_from: int | None = None) -> str:
    """An HTML table, cells escaped; the first ``text_columns`` align left.

    In a row of class ``unclear``, the cells from column ``dim_from`` on are greyed.
    """
    head = "".join(f'<th class="{"t" if i < text_columns else ""}">{esc(h)}</th>'
                   for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        css = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        cells = "".join(
            f'<td class="{"t" if i < text_columns else ""}'
            f'{" d" if dim_from is not None and i >= dim_from else ""}">{esc(c)}</td>'
            for i, c in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60.0


def traffic_cards(run: RunData) -> str:
    """Headline cards: trips, unfinished (flagged past 5 %), distance, time, speed, delay."""
    s = run.summary
    completed, delay = _number(s.get("trips_completed")), _number(s.get("delay_mean_s"))
    total_delay = delay * completed / 3600.0 if delay is not None and completed else None
    tt = _number(s.get("travel_time_mean_s"))
    left = planner.unfinished(s)
    left_text, left_note = "—", ""
    if left is not None:
        left_text = f"{left[0]:,} ({num(100 * left[1], '%', 2)})"
        if left[1] > planner.UNFINISHED_FLAG:
            elapsed = _number(s.get("trips_on_road_elapsed_mean_s"))
            on_road_for = (f" (on the road for {num(elapsed / 60.0, 'min')} on average)"
                           if elapsed is not None else "")
            left_note = (f"more than {planner.UNFINISHED_FLAG:.0%} of trips had not arrived "
                         f"at the end{on_road_for}: travel times leave out the longest "
                         "trips; simulation.drain: true lets the network empty")
    speed = planner.network_speed_kmh(run.links) if run.links is not None and \
        run.links["link"].size else None
    items: list[tuple[str, ...]] = [
        ("trips started", num(s.get("trips_started"))),
        ("trips completed", num(completed)),
        ("unfinished at the end", left_text, left_note),
        ("vehicle-km", num(s.get("vehicle_km"))),
        ("vehicle-hours", num(s.get("vehicle_hours"))),
        ("mean network speed", num(speed, "km/h")),
        ("mean travel time", num(tt / 60.0 if tt is not None else None, "min")),
        ("mean delay per trip", num(delay, "s")),
        ("… of it detour (extra free-flow time)", num(_number(s.get("detour_mean_s")), "s")),
        ("total delay, completed trips", num(total_delay, "veh·h")),
        ("congested link-minutes", num(s.get("congested_link_minutes"))),
        ("reroutes followed", num(get(s, "rerouting.followed"))),
        ("hazard warnings in time", num(100 * v if (v := _number(
            get(s, "hazards.warned_in_time_share"))) is not None else None, "%")),
        ("connected vehicles warned before reaching a hazard", num(100 * v if (v := _number(
            get(s, "hazards.cv_reaching_warned_share"))) is not None else None, "%")),
    ]
    return cards(items)


def worst_links_table(run: RunData, n: int = 10) -> str:
    """The ``n`` links that lost the most vehicle-hours (empty text without links.csv)."""
    if run.links is None or not run.links["link"].size:
        return ""
    rows = [[w.link, f"{w.from_node} → {w.to_node}", num(w.lost_vehicle_hours),
             num(w.mean_speed_kmh), num(w.worst_ratio, digits=2),
             num(w.worst_bin_start_s / 60.0), num(w.entered)]
            for w in planner.worst_links(run.links, n)]
    if not rows:
        return "<p>No link lost any time against free-flow speed.</p>"
    header = ["link", "from → to", "lost veh·h", "mean speed (km/h)",
              "lowest speed / free speed", "… in the bin from (min)", "vehicles entered"]
    return (f"<h3>The {len(rows)} links with the most time lost</h3>"
            "<p class=\"note\">Lost vehicle-hours: time on the link beyond what the same "
            "distance takes at free speed, summed over the run.</p>"
            + table(header, rows, text_columns=2))


def incidents_table(run: RunData) -> str:
    """Per incident: network outflow and lost time before and during it."""
    sim = run.scenario.get("simulation") or {}
    fill = _number(run.summary.get("travel_time_p95_s"))
    impacts = planner.incident_impacts(
        run.events, run.trips, run.links, warmup_s=float(sim.get("warmup_s") or 0.0),
        horizon_s=float(sim.get("horizon_s") or math.inf), fill_s=fill or 0.0)
    if not impacts:
        return ""
    rows = [[i.link + (" *" if i.filling else ""), f"{num(i.start_s / 60)}–{num(i.end_s / 60)}",
             num(i.outflow_before_vph), num(i.outflow_during_vph),
             num(i.lost_rate_before), num(i.lost_rate_during), num(i.extra_vehicle_hours)]
            for i in impacts]
    header = ["incident link", "during (min)", "outflow before (trips/h)",
              "outflow during (trips/h)", "lost veh·h per h before", "lost veh·h per h during",
              "extra veh·h"]
    return ("<h3>Incidents</h3><p class=\"note\">Network outflow (trips completed per hour) "
            "and time lost on every link, in the incident against an equally long window "
            "just before it (after the warm-up); extra vehicle-hours = (lost rate during − "
            "lost rate before) × duration. Other demand changes in those windows count "
            "too.</p>" + table(header, rows, text_columns=2)
            + ("<p class=\"note\">* The window before this incident starts while the "
               "network was still filling from empty (the run has no warm-up): its "
               "outflow and lost time are low, and the extra time is overstated. Set "
               "simulation.warmup_s to compare with a network in its usual state.</p>"
               if any(i.filling for i in impacts) else ""))


def incident_response_table(run: RunData) -> str:
    """Per incident: seconds to detection, to the first advice and first reroute around it.

    From ``rerouting.incidents``; empty text when the run had no incident clocks.
    """
    incidents = get(run.summary, "rerouting.incidents")
    if not isinstance(incidents, list) or not incidents:
        return ""
    rows = [[str(i.get("link")), num(_minutes(_number(i.get("start_s")))),
             num(_number(i.get("time_to_detection_s"))),
             num(_number(i.get("time_to_first_advice_s"))),
             num(_number(i.get("time_to_first_reroute_s")))]
            for i in incidents if isinstance(i, dict)]
    header = ["incident link", "start (min)", "detected after (s)",
              "first advice around it after (s)", "first driver rerouted after (s)"]
    return ("<h3>Incident response</h3><p class=\"note\">Seconds from each incident's "
            "start. Advice counts when it moves a vehicle whose route runs through the "
            "incident's link onto one avoiding it; a reroute, when a driver followed such "
            "advice. — : never (or no detection).</p>" + table(header, rows, text_columns=1))


def latency_table(run: RunData) -> str:
    """Per message kind: sent, lost, p50 and p99, deadline and share that missed it."""
    latency = run.summary.get("latency")
    if not isinstance(latency, dict) or not latency:
        return ""
    rows = []
    for kind, rec in latency.items():
        if not isinstance(rec, dict):
            continue
        miss = _number(rec.get("deadline_miss_ratio"))
        rows.append([kind, num(rec.get("sent")), num(rec.get("lost")),
                     num(_ms(rec.get("p50_s"))), num(_ms(rec.get("p99_s"))),
                     num(_ms(rec.get("deadline_s"))),
                     num(100 * miss if miss is not None else None, digits=2)])
    return ("<h3>Message latency per kind</h3>"
            + table(["kind", "sent", "lost", "p50 (ms)", "p99 (ms)", "deadline (ms)",
                     "missed the deadline, late or lost (%)"], rows))


def _ms(seconds: Any) -> float | None:
    value = _number(seconds)
    return value * 1000.0 if value is not None else None


def run_key_numbers(run: RunData) -> str:
    """The whole "Key numbers" section of a run's report."""
    return "\n".join(part for part in (traffic_cards(run), worst_links_table(run),
                                       incidents_table(run), incident_response_table(run),
                                       latency_table(run)) if part)
