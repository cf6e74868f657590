"""Progress for the command line: a run's time, a study's runs, an equilibrium's days."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO


class ProgressBar:
    """A one-line text progress bar on a terminal; silent elsewhere.

    Args:
        stream: where to draw (stderr).
        enabled: draw at all (False when not a TTY or with ``-q``).
    """

    def __init__(self, stream: TextIO, *, enabled: bool, label: str) -> None:
        self.stream, self.enabled, self.label = stream, enabled, label
        self._started = time.perf_counter()

    def __call__(self, sim_time_s: float, horizon_s: float) -> None:
        """Redraw the bar for simulation time ``sim_time_s`` of ``horizon_s``."""
        if not self.enabled:
            return
        share = min(1.0, sim_time_s / horizon_s) if horizon_s else 1.0
        width = 30
        filled = round(share * width)
        elapsed = time.perf_counter() - self._started
        left = elapsed / share - elapsed if share > 0 else 0.0
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{share:4.0%}  t={sim_time_s:,.0f}/{horizon_s:,.0f} s  "
                          f"{elapsed:5.1f} s wall, ~{left:4.1f} s left ")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class RunsBar:
    """Progress over the runs of a study, with an estimate of the time left."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled
        self._started = time.perf_counter()
        self._skipped = 0

    def __call__(self, done: int, total: int, skipped: int) -> None:
        """Redraw after ``done`` of ``total`` runs (``skipped`` found already complete)."""
        if not self.enabled:
            return
        self._skipped = skipped
        elapsed = time.perf_counter() - self._started
        ran = done - skipped
        left = elapsed / ran * (total - done) if ran else math.nan
        eta = f"~{left:,.0f} s left" if math.isfinite(left) else ""
        self.stream.write(f"\rruns {done}/{total} ({skipped} already done) "
                          f"{elapsed:,.0f} s {eta}   ")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class EquilibriumBar:
    """Progress over the days of a habitual-route equilibrium, with the relative gap."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled
        self._started = time.perf_counter()

    def __call__(self, day: int, days: int, relative_gap: float) -> None:
        """Redraw after ``day`` of at most ``days`` simulated days."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self._started
        self.stream.write(f"\rhabitual routes: day {day}/{days}, relative gap "
                          f"{relative_gap:.2%}, {elapsed:,.0f} s   ")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def habitual_routes_first(scenario: Any, *, quiet: bool) -> None:
    """Compute a scenario's missing equilibrium with a progress bar on stderr.

    Runs and studies then find it in the cache (study workers do not compute it each).
    Nothing to do unless ``routing.background`` is ``equilibrium`` with the cache on.
    """
    from v2x_sim.scenario.routing_section import Background

    routing = scenario.routing
    if routing.background != Background.EQUILIBRIUM or not routing.cache:
        return
    from v2x_sim.equilibrium import habitual_routes
    from v2x_sim.world import build_network_from

    bar = EquilibriumBar(sys.stderr, enabled=sys.stderr.isatty() and not quiet)
    try:
        habitual_routes(scenario, build_network_from(scenario), progress=bar)
    finally:
        bar.close()


def equilibrium_table(report: dict[str, Any]) -> str:
    """Days of an equilibrium as text: relative gap, mean trip time, wall seconds."""
    lines = [f"{'day':>4} {'relative gap':>13} {'mean trip s':>12} {'wall s':>8}"]
    days = zip(report["relative_gap_by_day"], report["mean_travel_time_s"], report["wall_s"],
               strict=True)
    for day, (gap, mean, wall) in enumerate(days, start=1):
        lines.append(f"{day:>4} {gap:>13.4%} {mean:>12,.1f} {wall:>8.1f}")
    return "\n".join(lines)
