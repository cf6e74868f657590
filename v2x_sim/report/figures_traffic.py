"""Road-traffic figures: the network map, congestion over time, travel times, trip counts.

Every function takes result tables (dicts of numpy columns, as `load_run` reads them)
and returns a `matplotlib.figure.Figure` built without pyplot, so nothing touches global
state and any backend (or none) can render it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from numpy.typing import NDArray

from v2x_sim.report.load import Table
from v2x_sim.tables.geojson import parse_shape, region_outline

WORST_WINDOW_S = 900.0
SPEED_CMAP = "viridis"  # perceptually uniform and colour-blind safe: dark = slow
NO_DATA_COLOUR = "#d4d4d4"
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")
"""Categorical colours that colour-blind readers tell apart (Okabe & Ito, 2008)."""
MAX_HEATMAP_LINKS = 40
"""Most links (rows) the heat map shows, each labelled; incident links always among them."""
DEVICE_STYLE: dict[str, dict[str, Any]] = {
    "rsu": {"marker": "^", "s": 28, "label": "RSU"},
    "camera": {"marker": ".", "s": 14, "label": "camera"},
    "radar": {"marker": "x", "s": 14, "label": "radar"},
    "lidar": {"marker": "d", "s": 14, "label": "lidar"},
}


def worst_window(links: Table, length_s: float = WORST_WINDOW_S) -> tuple[float, float]:
    """The ``length_s`` window of whole link bins with the lowest mean speed ratio.

    The network-wide speed ratio of a bin is the mean over links with traffic in it;
    the window slides bin by bin. A run shorter than the window gives the whole run.
    """
    starts = np.unique(links["t_start_s"])
    if starts.size == 0:
        return 0.0, length_s
    ends = np.array([links["t_end_s"][links["t_start_s"] == s].max() for s in starts])
    bin_s = float(np.median(ends - starts)) or length_s
    per_bin = np.array([_nanmean(links["speed_ratio"][links["t_start_s"] == s])
                        for s in starts])
    width = max(1, min(starts.size, round(length_s / bin_s)))
    best, best_value = 0, math.inf
    for i in range(starts.size - width + 1):
        value = _nanmean(per_bin[i:i + width])
        if value < best_value:
            best, best_value = i, value
    return float(starts[best]), float(ends[best + width - 1])


def _nanmean(values: NDArray[Any]) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def link_mean_ratio(links: Table, window: tuple[float, float] | None = None
                    ) -> dict[str, float]:
    """Mean speed ratio per link (keyed by id as text) over the bins inside ``window``.

    All bins when ``window`` is None.
    """
    mask = np.ones(links["link"].size, dtype=bool)
    if window is not None:
        mask = (links["t_start_s"] >= window[0] - 1e-9) & (links["t_end_s"] <= window[1] + 1e-9)
    ids = links["link"][mask]
    ratio = links["speed_ratio"][mask]
    return {str(i): _nanmean(ratio[ids == i]) for i in np.unique(ids)}


def _offset_lines(network: Table, offset: float) -> list[NDArray[np.float64]]:
    """Each link's line shifted to its right, so the two directions of a road both show.

    A link with a ``shape`` (an imported road's polyline) is drawn along it, every vertex
    moved along the mean normal of its two segments; others as the straight line between
    their end nodes.
    """
    x0, y0 = network["x0_m"].astype(float), network["y0_m"].astype(float)
    x1, y1 = network["x1_m"].astype(float), network["y1_m"].astype(float)
    shapes = network.get("shape")
    lines = []
    for i in range(x0.size):
        line = parse_shape(str(shapes[i])) if shapes is not None else None
        if line is None:
            line = np.array([[x0[i], y0[i]], [x1[i], y1[i]]])
        lines.append(_shift_right(line, offset))
    return lines


def _shift_right(line: NDArray[np.float64], offset: float) -> NDArray[np.float64]:
    """A polyline moved ``offset`` to the right of its direction of travel."""
    d = np.diff(line, axis=0)
    norm = np.hypot(d[:, 0], d[:, 1])
    norm[norm == 0] = 1.0
    normals = np.stack([d[:, 1], -d[:, 0]], axis=1) / norm[:, None]
    at_vertex = np.vstack([normals[:1], (normals[:-1] + normals[1:]) / 2, normals[-1:]])
    length = np.hypot(at_vertex[:, 0], at_vertex[:, 1])
    length[length == 0] = 1.0
    return line + at_vertex / length[:, None] * offset


def edge_names(table: Table) -> NDArray[Any]:
    """Each row's edge node as files name it (``edge-0``), also from older folders."""
    if "edge_node" in table:
        return np.asarray(table["edge_node"]).astype(str)
    return np.array([f"edge-{e}" if int(e) >= 0 else "" for e in table["edge"].tolist()])


def _draw_edge_regions(ax: Any, rsus: Table, pad: float) -> None:
    names = edge_names(rsus)
    for k, edge in enumerate(sorted(set(names.tolist()) - {""}, key=lambda n: (len(n), n))):
        mask = names == edge
        pts = np.stack([rsus["x_m"][mask], rsus["y_m"][mask]], axis=1).astype(float)
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        ax.add_patch(Polygon(region_outline(pts, pad), closed=True, facecolor=colour,
                             alpha=0.08, edgecolor=colour, linestyle="--", linewidth=1.0,
                             zorder=0))
        centre = pts.mean(axis=0)
        ax.annotate(edge, centre, color=colour, fontsize=9, fontweight="bold",
                    ha="center", va="center", zorder=6,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour,
                          "alpha": 0.8})


def network_map(network: Table | None, rsus: Table | None, devices: Table | None,
                links: Table | None, window: tuple[float, float] | None = None,
                events: Table | None = None) -> Figure:
    """Map of the zone: roads coloured by speed ratio, devices, edge regions, incidents.

    Args:
        network: link geometry (``network.csv``); without it the map shows devices only.
        rsus: RSU positions and edge node (``rsus.csv``), for the edge regions.
        devices: every roadside device (``devices.csv``).
        links: the link time series (``links.csv``) for the colours.
        window: ``(t0, t1)`` in seconds to average the speed ratio over; by default the
            worst 15 minutes (`worst_window`).
        events: ``events.csv``; incident starts are marked on their link.

    Returns:
        A figure 10 inches wide, its height (2.8 to 10 inches) following the zone's shape.
    """
    xs: list[NDArray[Any]] = []
    ys: list[NDArray[Any]] = []
    if network is not None and network["link"].size:
        xs += [network["x0_m"], network["x1_m"]]
        ys += [network["y0_m"], network["y1_m"]]
    if devices is not None and devices["x_m"].size:
        xs.append(devices["x_m"])
        ys.append(devices["y_m"])
    width_m = float(np.ptp(np.concatenate(xs))) if xs else 1000.0
    height_m = float(np.ptp(np.concatenate(ys))) if ys else 1000.0
    span = max(width_m, height_m) or 1000.0
    wide = width_m > 2.5 * height_m  # a corridor: colour bar below, not beside
    fig = Figure(figsize=(10, 7), layout="constrained")
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    title = "Roadside devices"
    if network is not None and network["link"].size:
        if links is not None and links["link"].size:
            chosen = window is None
            if window is None:
                window = worst_window(links)
            means = link_mean_ratio(links, window)
            worst = (" (worst 15 min)" if chosen and window[1] - window[0] >= WORST_WINDOW_S
                     else " (whole run)" if chosen else "")
            title = (f"Mean speed / free speed, {window[0] / 60:.0f}–{window[1] / 60:.0f} min"
                     f"{worst}")
        else:
            means, title = {}, "Road network"
        ratio = np.array([means.get(str(i), math.nan) for i in network["link"]])
        lines = _offset_lines(network, span * 0.004)
        unknown = [line for line, ok in zip(lines, np.isfinite(ratio), strict=True) if not ok]
        drawn = [line for line, ok in zip(lines, np.isfinite(ratio), strict=True) if ok]
        norm = Normalize(0.0, 1.0)
        lanes = network.get("lanes", np.full(ratio.size, 2))
        widths = 1.0 + 0.8 * np.clip(lanes.astype(float), 1, 4)
        known = np.isfinite(ratio)
        ax.add_collection(LineCollection(unknown, colors=NO_DATA_COLOUR,
                                         linewidths=widths[~known], zorder=1))
        coll = LineCollection(drawn, cmap=SPEED_CMAP, norm=norm,
                              linewidths=widths[known], zorder=2)
        coll.set_array(ratio[known])
        ax.add_collection(coll)
        if means:
            fig.colorbar(coll, ax=ax, shrink=0.5 if wide else 0.7, aspect=40 if wide else 20,
                         location="bottom" if wide else "right",
                         label="speed / free speed (0 stopped, 1 free; grey: no traffic)")
        _mark_incidents(ax, network, events)
    if rsus is not None and rsus["x_m"].size:
        _draw_edge_regions(ax, rsus, span * 0.02)
    scale = 1.0
    if devices is not None and devices["x_m"].size:
        # thousands of devices would hide the roads: smaller, fainter markers
        scale = min(1.0, math.sqrt(400.0 / devices["x_m"].size))
        for kind in np.unique(devices["kind"]):
            style = DEVICE_STYLE.get(str(kind), {"marker": "o", "s": 12, "label": str(kind)})
            mask = devices["kind"] == kind
            ax.scatter(devices["x_m"][mask], devices["y_m"][mask], color="black",
                       alpha=0.75 * max(scale, 0.6), linewidths=0.8 * scale, zorder=4,
                       **{**style, "s": style["s"] * scale,
                          "label": f"{style['label']} ({int(mask.sum())})"})
    ax.autoscale_view()
    ax.margins(0.04)
    # the figure takes the zone's shape (plot width times the data's aspect, plus room
    # for title, labels, colour bar and legend): a long corridor gets a short figure
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    aspect = (y1 - y0) / (x1 - x0) if x1 > x0 else 1.0
    fig_h = 9.0 * aspect + 1.7 if wide else 7.4 * aspect + 1.3
    fig.set_size_inches(10, round(min(10.0, max(2.8, fig_h)), 1))
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                   fontsize=8, frameon=False, markerscale=1.0 / scale)
    fig.suptitle(title if network is not None else "Roadside devices (no road geometry in "
                                                   "this folder)")
    return fig


def _mark_incidents(ax: Any, network: Table, events: Table | None) -> None:
    if events is None or events["kind"].size == 0:
        return
    starts = events["kind"] == "incident_start"
    index = {str(link): i for i, link in enumerate(network["link"])}
    first = True
    for link, time_s in zip(events["link"][starts], events["time_s"][starts], strict=True):
        i = index.get(str(link))
        if i is None:
            continue
        x = (float(network["x0_m"][i]) + float(network["x1_m"][i])) / 2
        y = (float(network["y0_m"][i]) + float(network["y1_m"][i])) / 2
        ax.scatter([x], [y], marker="*", s=260, color="#D55E00", edgecolors="black",
                   linewidths=0.8, zorder=7, label="incident" if first else None)
        ax.annotate(f"link {link}\n{time_s / 60:.0f} min", (x, y), xytext=(8, 8),
                    textcoords="offset points", fontsize=8, zorder=7)
        first = False


def _incident_windows(events: Table | None, end_s: float) -> list[tuple[str, float, float]]:
    """``(link, start_s, end_s)`` per incident in ``events.csv`` (open ones end at ``end_s``)."""
    if events is None or not events["kind"].size:
        return []
    kinds = np.asarray(events["kind"]).astype(str)
    links = np.asarray(events["link"]).astype(str)
    times = np.asarray(events["time_s"], float)
    out = []
    for i in np.flatnonzero(kinds == "incident_start"):
        ends = np.flatnonzero((kinds == "incident_end") & (links == links[i])
                              & (times >= times[i]))
        out.append((str(links[i]), float(times[i]), float(times[ends[0]]) if ends.size
                    else end_s))
    return out


def congestion_heatmap(links: Table, order: str = "ratio", events: Table | None = None,
                       max_links: int = MAX_HEATMAP_LINKS) -> Figure:
    """Speed ratio of links in every time bin, worst links at the top, every row labelled.

    At most ``max_links`` rows: the links with the lowest mean speed ratio (``order=
    "ratio"``) or the first by id (``"id"``), plus any incident link. Each row is
    labelled with its link id and end nodes; incidents are outlined on their link's row
    for their duration (white and black dashes show on any colour) and named in the
    row's label.

    Args:
        links: ``links.csv`` rows (``link, t_start_s, t_end_s, speed_ratio``).
        order: ``"ratio"`` (by mean speed ratio, lowest first) or ``"id"``.
        events: ``events.csv``, for the incidents.
        max_links: the most rows shown.

    Returns:
        A figure 9 inches wide, 2 inches plus 0.17 per row high (at least 4).
    """
    ids = np.unique(np.asarray(links["link"]).astype(str))
    starts = np.unique(links["t_start_s"])
    grid = np.full((ids.size, starts.size), np.nan)
    row = np.searchsorted(ids, np.asarray(links["link"]).astype(str))
    col = np.searchsorted(starts, links["t_start_s"])
    grid[row, col] = links["speed_ratio"]
    end = float(links["t_end_s"].max()) if links["t_end_s"].size else 1.0
    incidents = _incident_windows(events, end)
    if order == "ratio":
        with np.errstate(invalid="ignore"):
            means = np.array([_nanmean(r) for r in grid])
        rank = np.argsort(np.where(np.isfinite(means), means, np.inf), kind="stable")
    else:
        rank = np.array(sorted(range(ids.size), key=lambda k: (len(ids[k]), ids[k])),
                        dtype=np.int64)
    keep = list(rank[:max_links])
    for link, *_ in incidents:  # an incident's link is always shown
        hit = np.flatnonzero(ids == link)
        if hit.size and hit[0] not in keep:
            keep.append(int(hit[0]))
    total = ids.size
    ids, grid = ids[keep], grid[keep]
    ends = {str(k): (str(f), str(t)) for k, f, t in zip(
        np.asarray(links["link"]).astype(str), links.get("from", links["link"]),
        links.get("to", links["link"]), strict=True)} if "from" in links else {}
    fig = Figure(figsize=(9, round(max(4.0, 2.0 + 0.17 * ids.size), 2)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_facecolor(NO_DATA_COLOUR)
    t0 = float(starts.min(initial=0.0))
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=SPEED_CMAP,
                      vmin=0.0, vmax=1.0, interpolation="nearest",
                      extent=(t0 / 60, end / 60, ids.size - 0.5, -0.5))
    struck = {link for link, *_ in incidents}
    labels = [f"{i} ({ends[i][0]}→{ends[i][1]})" if i in ends else str(i) for i in ids]
    labels = [f"{text}  ⚠ incident" if i in struck else text for i, text in zip(ids, labels,
                                                                                strict=True)]
    ax.set_yticks(np.arange(ids.size), labels, fontsize=8 if ids.size > 20 else 9)
    for tick, link in zip(ax.get_yticklabels(), ids, strict=True):
        if link in struck:
            tick.set_fontweight("bold")
    for link, start, stop in incidents:
        for r in np.flatnonzero(ids == link):
            for colour, style in (("white", "-"), ("black", (0, (3, 3)))):
                ax.add_patch(Rectangle((start / 60, r - 0.5), (stop - start) / 60, 1.0,
                                       fill=False, edgecolor=colour, linestyle=style,
                                       linewidth=2.0, zorder=3))
    ax.set_xlabel("time (min)")
    which = "lowest mean speed ratio at the top" if order == "ratio" else "by id"
    shown = f"{ids.size} of {total} links" if ids.size < total else "every link"
    ax.set_ylabel("link (from → to)")
    ax.set_title(f"Link speed / free speed per time bin: {shown}, {which}", fontsize=10)
    fig.colorbar(image, ax=ax, label="speed / free speed (grey: no traffic)",
                 shrink=min(1.0, 6.0 / fig.get_size_inches()[1]))
    return fig


def _completed(trips: Table, warmup_s: float) -> NDArray[np.bool_]:
    return np.isfinite(trips["travel_time_s"]) & (trips["depart_s"] >= warmup_s)


def travel_time_distribution(trips: Table, warmup_s: float = 0.0) -> Figure:
    """Travel time histogram and delay box plot per vehicle class (completed trips).

    Args:
        trips: ``trips.csv`` rows.
        warmup_s: trips departing earlier are left out, as in ``summary.json``.

    Returns:
        A 10 x 4.5 inch figure with two panels.
    """
    done = _completed(trips, warmup_s)
    classes = [str(c) for c in np.unique(trips["class"][done])]
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    tt = trips["travel_time_s"][done] / 60.0
    bins = np.histogram_bin_edges(tt, bins=40) if tt.size else np.linspace(0, 1, 2)
    delays = []
    for name in classes:
        mask = trips["class"][done] == name
        left.hist(tt[mask], bins=bins, histtype="step", linewidth=1.6,
                  label=f"{name} (n={int(mask.sum())}, mean {tt[mask].mean():.1f} min)")
        delays.append(trips["delay_s"][done][mask])
    left.set_xlabel("travel time (min)")
    left.set_ylabel("completed trips per bin")
    left.set_yscale("log")
    left.set_title("Travel time by class")
    if classes:
        left.legend(fontsize=8)
        right.boxplot(delays, showfliers=True, flierprops={"markersize": 2, "alpha": 0.4},
                      medianprops={"color": "black"})
        right.set_xticks(np.arange(1, len(classes) + 1), classes)
    right.set_xlabel("vehicle class")
    right.set_ylabel("delay (s)")
    right.set_title("Delay by class (box: quartiles)")
    return fig


def cumulative_trips(trips: Table, warmup_s: float = 0.0) -> Figure:
    """Trips started and completed over time; the gap between them is on the road.

    Args:
        trips: ``trips.csv`` rows.
        warmup_s: shaded on the time axis (trips departing then are not in the statistics).

    Returns:
        A 9 x 4 inch figure.
    """
    depart = np.sort(trips["depart_s"][np.isfinite(trips["depart_s"])]) / 60.0
    arrive = np.sort(trips["arrive_s"][np.isfinite(trips["arrive_s"])]) / 60.0
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.add_subplot()
    end = max(float(depart.max(initial=0.0)), float(arrive.max(initial=0.0))) or 1.0
    grid = np.linspace(0.0, end, 600)
    started = np.searchsorted(depart, grid, side="right")
    completed = np.searchsorted(arrive, grid, side="right")
    ax.plot(grid, started, label="started")
    ax.plot(grid, completed, label="completed")
    ax.fill_between(grid, completed, started, alpha=0.15, label="on the road")
    if warmup_s > 0:
        ax.axvspan(0, warmup_s / 60.0, color="grey", alpha=0.15, label="warm-up")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("trips (cumulative)")
    ax.set_title("Trips started and completed")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return fig
