"""Study figures: policy comparisons (means and paired differences) and sweeps.

Both take the study table (``comparison.csv`` / ``sweep.csv`` as `load_study` reads it)
and return a `matplotlib.figure.Figure` built without pyplot. Every interval is the
95 % Student-t interval the study computed over its replications.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

from v2x_sim.report.load import Table

PREFERRED_METRICS = (
    "travel_time_mean_s", "delay_mean_s", "vehicle_hours", "trips_completed",
    "throughput_vph", "congested_link_minutes", "rerouting.followed",
    "hazards.warned_in_time_share", "latency.hazard_warning.p99_s",
    "latency.perception.p99_s", "latency.bsm.p99_s", "latency.status.p99_s",
    "latency.route_advice.p99_s", "latency.perception.deadline_miss_ratio",
    "latency.bsm.deadline_miss_ratio", "latency.hazard_warning.deadline_miss_ratio",
)
MAX_PANELS = 6
STUDY_COLUMNS = ("metric", "arm", "n", "mean", "ci_low", "ci_high")


def _varies(table: Table, metric: str) -> bool:
    means = table["mean"][table["metric"] == metric]
    finite = means[np.isfinite(means)]
    return finite.size > 1 and float(np.ptp(finite)) > 1e-12 * max(1.0, abs(finite).max())


def pick_metrics(table: Table, limit: int = MAX_PANELS) -> list[str]:
    """Headline metrics with a value in the table, those that differ between arms first."""
    present = {str(m) for m in table["metric"][np.isfinite(table["mean"])].tolist()}
    chosen = [m for m in PREFERRED_METRICS if m in present]
    if not chosen:
        chosen = sorted(present)
    ordered = sorted(chosen, key=lambda m: not _varies(table, m))  # stable: keeps priority
    return ordered[:limit]


def baselines_of(table: Table) -> list[str]:
    """Arms the table holds paired differences against (``diff_vs_<arm>`` columns)."""
    return [name.removeprefix("diff_vs_") for name in table
            if name.startswith("diff_vs_") and not name.endswith(("_ci_low", "_ci_high",
                                                                  "_unclear"))]


def _err(mean: NDArray[Any], low: NDArray[Any], high: NDArray[Any]) -> NDArray[Any]:
    """Error-bar lengths (2 x n), zero where an interval is missing."""
    return np.nan_to_num(np.abs(np.stack([mean - low, high - mean])))


def comparison_figure(table: Table, metrics: list[str] | None = None,
                      baseline: str | None = None) -> Figure:
    """Per metric, each arm's mean with its 95 % interval and its paired difference.

    Args:
        table: ``comparison.csv`` or ``replication.csv`` rows.
        metrics: metrics to show (default: up to six headline metrics, `pick_metrics`).
        baseline: the arm differences are taken against (default: the table's first
            ``diff_vs_`` column); without difference columns only means are drawn.

    Returns:
        A figure 10 inches wide, 0.5 + (0.6 + 0.28 per arm) inches high per metric.
        Differences whose interval contains zero are drawn hollow (unclear).
    """
    metrics = metrics or pick_metrics(table)
    bases = baselines_of(table)
    base = baseline if baseline in bases else (bases[0] if bases else None)
    arms: list[str] = list(dict.fromkeys(str(a) for a in table["arm"].tolist()))
    height = 0.5 + len(metrics) * (0.6 + 0.28 * len(arms))
    fig = Figure(figsize=(10, max(3.0, height)), layout="constrained")
    axes = fig.subplots(len(metrics), 2 if base else 1, squeeze=False,
                        gridspec_kw={"width_ratios": [1, 1]} if base else None)
    y = np.arange(len(arms))[::-1]
    for row, metric in enumerate(metrics):
        rows = table["metric"] == metric
        pos = {str(a): i for i, a in enumerate(table["arm"][rows].tolist())}
        pick = np.array([pos.get(a, -1) for a in arms])
        ok = pick >= 0

        factor = unit_of(metric)[0]

        def column(name: str, rows: NDArray[np.bool_] = rows, pick: NDArray[Any] = pick,
                   ok: NDArray[np.bool_] = ok, factor: float = factor) -> NDArray[Any]:
            values = table[name][rows]
            out = np.array([values[k] if good else math.nan
                            for k, good in zip(pick, ok, strict=True)])
            scaled = name not in ("n",) and not name.endswith("_unclear")
            return out * factor if scaled else out

        mean, low, high, n = column("mean"), column("ci_low"), column("ci_high"), column("n")
        ax = axes[row, 0]
        ax.errorbar(mean, y, xerr=_err(mean, low, high), fmt="o", color="#1f77b4",
                    capsize=3)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_yticks(y, [f"{a} (n={int(k) if math.isfinite(k) else 0})"
                          for a, k in zip(arms, n, strict=True)], fontsize=8)
        ax.set_xlabel(_label(metric), fontsize=8)
        ax.set_ylim(-0.6, len(arms) - 0.4)
        ax.grid(True, axis="x", alpha=0.3)
        if row == 0:
            ax.set_title("mean with 95 % interval", fontsize=10)
        if base:
            diff = column(f"diff_vs_{base}")
            dlow, dhigh = column(f"diff_vs_{base}_ci_low"), column(f"diff_vs_{base}_ci_high")
            flag = f"diff_vs_{base}_unclear"
            unclear = (column(flag).astype(bool) if flag in table
                       else ~((dlow > 0) | (dhigh < 0)))
            dx = axes[row, 1]
            dx.axvline(0.0, color="black", linewidth=0.8)
            is_base = np.array([a == base for a in arms])
            for k in np.flatnonzero(is_base):
                dx.annotate("baseline", (0.0, y[k]), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=8, color="grey")
            for mask, face in ((~unclear & ~is_base, "#d62728"), (unclear & ~is_base, "white")):
                if mask.any():
                    dx.errorbar(diff[mask], y[mask], xerr=_err(diff, dlow, dhigh)[:, mask],
                                fmt="o", color="#d62728", mfc=face, capsize=3)
            dx.set_yticks(y, [""] * len(arms))
            dx.xaxis.set_major_locator(MaxNLocator(6))
            dx.set_ylim(-0.6, len(arms) - 0.4)
            dx.set_xlabel(f"difference vs {base}: {_label(metric)}", fontsize=8)
            dx.grid(True, axis="x", alpha=0.3)
            if row == 0:
                dx.set_title(f"paired difference vs {base} (hollow: interval contains 0)",
                             fontsize=10)
    return fig


UNITS = (("_s", "s"), ("_vph", "veh/h"), ("vehicle_hours", "veh·h"),
         ("vehicle_km", "veh·km"), ("_minutes", "link-min"), ("_m", "m"))


def unit_of(metric: str) -> tuple[float, str]:
    """(factor, unit) to show a metric in: latencies in ms, shares in %, else as stored."""
    if metric.endswith("_s") and (metric.startswith("latency.") or "latency" in metric
                                  or "time_to_first" in metric):
        return 1000.0, "ms"
    if metric.endswith(("_ratio", "_share", ".coverage")):
        return 100.0, "%"
    for suffix, unit in UNITS:
        if metric.endswith(suffix):
            return 1.0, unit
    return 1.0, "count" if metric.startswith(("trips_", "rerouting.", "moved_on")) else ""


def _label(metric: str) -> str:
    """A metric name with its unit, for an axis label."""
    unit = unit_of(metric)[1]
    return f"{metric} ({unit})" if unit else metric


def _numeric(values: list[str]) -> NDArray[np.float64] | None:
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return None


def sweep_figure(table: Table, parameters: list[str], metrics: list[str] | None = None,
                 x: str | None = None) -> Figure:
    """Each metric against the swept parameter with 95 % intervals.

    Args:
        table: ``sweep.csv`` rows (parameter columns as text, then ``metric, n, mean,
            ci_low, ci_high``).
        parameters: the swept parameter columns.
        metrics: metrics to show (default: up to six headline metrics).
        x: the parameter on the horizontal axis (default: the numeric one with the most
            values); every combination of the others is its own line.

    Returns:
        A figure 10 inches wide, 3.2 inches high per row of two panels.
    """
    metrics = metrics or pick_metrics(table)
    if not parameters:
        raise ValueError("a sweep table needs at least one parameter column")
    if x is None:
        numeric = [p for p in parameters if _numeric(sorted(set(table[p].tolist())))
                   is not None]
        x = max(numeric or parameters, key=lambda p: len(set(table[p].tolist())))
    others = [p for p in parameters if p != x]
    values = list(dict.fromkeys(str(v) for v in table[x].tolist()))
    as_numbers = _numeric(values)
    order = np.argsort(as_numbers) if as_numbers is not None else np.arange(len(values))
    values = [values[i] for i in order]
    positions = (np.sort(as_numbers) if as_numbers is not None
                 else np.arange(len(values), dtype=float))
    cols = 2 if len(metrics) > 1 else 1
    nrows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(10, 0.6 + 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False)
    groups = (sorted({tuple(str(table[p][i]) for p in others) for i in range(table[x].size)})
              if others else [()])
    spread = float(np.ptp(positions)) if positions.size > 1 else 1.0
    for k, metric in enumerate(metrics):
        ax = axes[k // cols, k % cols]
        for g, group in enumerate(groups):
            # lines side by side, not on top of each other, when several share a point
            shift = (g - (len(groups) - 1) / 2) * 0.012 * spread
            mask = table["metric"] == metric
            for p, v in zip(others, group, strict=True):
                mask &= table[p] == v
            at = {str(table[x][i]): i for i in np.flatnonzero(mask)}
            idx = [at.get(v) for v in values]
            factor = unit_of(metric)[0]
            mean, low, high = (np.array([table[c][i] * factor if i is not None else math.nan
                                         for i in idx]) for c in ("mean", "ci_low", "ci_high"))
            label = ", ".join(f"{p}={v}" for p, v in zip(others, group, strict=True)) or None
            at_x = positions + shift
            line = ax.plot(at_x, mean, marker="o", label=label)[0]
            ax.fill_between(at_x, low, high, color=line.get_color(), alpha=0.12, linewidth=0)
            ax.errorbar(at_x, mean, yerr=_err(mean, low, high), fmt="none",
                        ecolor=line.get_color(), capsize=3)
        ax.set_xlabel(x)
        ax.set_ylabel(_label(metric), fontsize=8)
        if as_numbers is None or len(values) <= 12:
            ax.set_xticks(positions, values)
        shown = table["mean"][(table["metric"] == metric) & np.isfinite(table["mean"])]
        if shown.size and shown.min() > 0 and shown.max() > 100 * shown.min():
            ax.set_yscale("log")  # spans decades (an overloaded edge against an idle one)
        ax.grid(True, alpha=0.3)
        if others and k == 0:
            ax.legend(fontsize=7)
    for k in range(len(metrics), nrows * cols):
        axes[k // cols, k % cols].set_visible(False)
    fig.suptitle(f"Sweep over {x}: mean and 95 % interval per point")
    return fig
