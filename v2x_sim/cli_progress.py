"""Progress for the command line: a run's phases, a study's runs, an equilibrium's days.

Everything goes to stderr (stdout keeps the results a script may parse). On a terminal a
live line is redrawn in place; elsewhere (a pipe, a CI log, a notebook's subprocess)
each step is one plain line, never a carriage return; with ``-q`` nothing is shown.
"""

from __future__ import annotations

import enum
import math
import sys
import time
from typing import Any, TextIO


class Mode(enum.Enum):
    """How progress is shown."""

    OFF = "off"
    LIVE = "live"  # one line redrawn in place (a terminal)
    PLAIN = "plain"  # one line per step (pipes, logs)


def progress_mode(stream: TextIO, *, quiet: bool) -> Mode:
    """OFF with ``-q``, LIVE on a terminal, PLAIN elsewhere."""
    if quiet:
        return Mode.OFF
    isatty = getattr(stream, "isatty", None)
    return Mode.LIVE if isatty is not None and isatty() else Mode.PLAIN


class _Lines:
    """Writes a live line (redrawn in place) or plain lines, by mode."""

    def __init__(self, stream: TextIO, mode: Mode) -> None:
        self.stream, self.mode = stream, mode
        self._live_width = 0

    def live(self, text: str) -> None:
        """Redraw the live line (LIVE mode only)."""
        if self.mode is Mode.LIVE:
            pad = max(0, self._live_width - len(text))
            self.stream.write(f"\r{text}{' ' * pad}")
            self.stream.flush()
            self._live_width = len(text)

    def line(self, text: str) -> None:
        """A line of its own, above the live line if there is one."""
        if self.mode is Mode.OFF:
            return
        if self._live_width:
            self.stream.write(f"\r{' ' * self._live_width}\r")
            self._live_width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def end_live(self) -> None:
        """Leave the live line as it is and move below it."""
        if self._live_width:
            self.stream.write("\n")
            self.stream.flush()
            self._live_width = 0


def _bar(share: float, width: int = 30) -> str:
    filled = round(share * width)
    return f"[{'#' * filled}{'.' * (width - filled)}]"


class RunProgress:
    """One run's phases (build, run, write, report), with a bar over simulated time.

    Live: ``quickstart: run [#####.....] 40%  t=720/1,800 s  1.2 s wall, ~1.8 s left``,
    then one closing line with each phase's wall time. Plain: a line when each phase
    ends (``quickstart: build done in 0.4 s (25 nodes, ...)``) and one per tenth of the
    simulated horizon.

    Args:
        stream: where to write (stderr).
        mode: see `Mode`.
        label: what runs (the scenario's name).
    """

    def __init__(self, stream: TextIO, *, mode: Mode, label: str) -> None:
        self._out = _Lines(stream, mode)
        self.label = label
        self._phase: str | None = None
        self._phase_started = 0.0
        self._times: list[tuple[str, float]] = []
        self._tenths_shown = 0

    def begin(self, phase: str) -> None:
        """Start ``phase`` (ending the current one)."""
        self.end()
        self._phase, self._phase_started = phase, time.perf_counter()
        self._out.live(f"{self.label}: {phase} ...")

    def end(self, detail: str = "") -> None:
        """End the current phase; ``detail`` goes on its plain line (``" (80 links)"``)."""
        if self._phase is None:
            return
        wall_s = time.perf_counter() - self._phase_started
        self._times.append((self._phase, wall_s))
        if self._out.mode is Mode.PLAIN:
            self._out.line(f"{self.label}: {self._phase} done in {wall_s:.1f} s{detail}")
        self._phase = None

    def __call__(self, sim_time_s: float, horizon_s: float) -> None:
        """Progress of the run phase at simulation time ``sim_time_s`` of ``horizon_s``."""
        share = min(1.0, sim_time_s / horizon_s) if horizon_s else 1.0
        elapsed = time.perf_counter() - self._phase_started
        if self._out.mode is Mode.LIVE:
            left = elapsed / share - elapsed if share > 0 else 0.0
            self._out.live(f"{self.label}: run {_bar(share)} {share:4.0%}  "
                           f"t={sim_time_s:,.0f}/{horizon_s:,.0f} s  "
                           f"{elapsed:5.1f} s wall, ~{left:4.1f} s left")
        elif self._out.mode is Mode.PLAIN:
            tenths = math.floor(share * 10 + 1e-9)
            if 0 < tenths < 10 and tenths > self._tenths_shown:
                self._tenths_shown = tenths
                self._out.line(f"{self.label}: run {tenths * 10}% (t={sim_time_s:,.0f}/"
                               f"{horizon_s:,.0f} s, {elapsed:.1f} s wall)")

    def note(self, text: str) -> None:
        """A one-off message between the progress lines."""
        self._out.line(f"{self.label}: {text}")
        if self._phase is not None:
            self._out.live(f"{self.label}: {self._phase} ...")

    def close(self, *, completed: bool = True) -> None:
        """End the last phase; live, sum the phases up on the last line."""
        self.end()
        if completed and self._out.mode is Mode.LIVE and self._times:
            phases = ", ".join(f"{name} {wall_s:.1f} s" for name, wall_s in self._times)
            self._out.live(f"{self.label}: {phases}")
        self._out.end_live()


class RunsBar:
    """Progress over the runs of a study, with an estimate of the time left."""

    def __init__(self, stream: TextIO, *, mode: Mode) -> None:
        self._out = _Lines(stream, mode)
        self._started = time.perf_counter()

    def __call__(self, done: int, total: int, skipped: int) -> None:
        """Show ``done`` of ``total`` runs (``skipped`` found already complete)."""
        elapsed = time.perf_counter() - self._started
        ran = done - skipped
        left = elapsed / ran * (total - done) if ran else math.nan
        eta = f", ~{left:,.0f} s left" if math.isfinite(left) and done < total else ""
        text = f"runs {done}/{total} ({skipped} already done), {elapsed:,.0f} s{eta}"
        if self._out.mode is Mode.LIVE:
            self._out.live(text)
        else:
            self._out.line(text)

    def note(self, text: str) -> None:
        """A one-off message between the progress lines."""
        self._out.line(text)

    def close(self) -> None:
        """End the live line."""
        self._out.end_live()


class EquilibriumBar:
    """Progress over the days of a habitual-route equilibrium, with the relative gap."""

    def __init__(self, stream: TextIO, *, mode: Mode) -> None:
        self._out = _Lines(stream, mode)
        self._started = time.perf_counter()

    def __call__(self, day: int, days: int, relative_gap: float) -> None:
        """Show day ``day`` of at most ``days`` simulated days."""
        elapsed = time.perf_counter() - self._started
        text = (f"habitual routes: day {day}/{days}, relative gap {relative_gap:.2%}, "
                f"{elapsed:,.0f} s")
        if self._out.mode is Mode.LIVE:
            self._out.live(text)
        else:
            self._out.line(text)

    def close(self) -> None:
        """End the live line."""
        self._out.end_live()


def compile_notice(note: Any) -> Any:
    """A callback for `v2x_sim._core.jit.compile_notices` that says once why we pause.

    Args:
        note: called with the message (a progress object's ``note``).
    """
    from v2x_sim._core.jit import caching

    said = False

    def notice(_kernel: str) -> None:
        nonlocal said
        if said:
            return
        said = True
        if caching():
            note("compiling the queue kernels (first run only: numba caches them) ...")
        else:
            note("compiling the queue kernels (no writable cache folder: every run; set "
                 "NUMBA_CACHE_DIR) ...")

    return notice


def habitual_routes_first(scenario: Any, *, quiet: bool) -> None:
    """Compute a scenario's missing equilibrium with progress on stderr.

    Runs and studies then find it in the cache (study workers do not compute it each).
    Nothing to do unless ``routing.background`` is ``equilibrium`` with the cache on.
    """
    from v2x_sim.scenario.routing_section import Background

    routing = scenario.routing
    if routing.background != Background.EQUILIBRIUM or not routing.cache:
        return
    from v2x_sim.equilibrium import ensure_cached
    from v2x_sim.scenario.scale import scaled_scenario
    from v2x_sim.world import build_network_from

    scenario = scaled_scenario(scenario)  # the routes of the world `run` builds

    bar = EquilibriumBar(sys.stderr, mode=progress_mode(sys.stderr, quiet=quiet))
    try:
        ensure_cached(scenario, build_network_from(scenario), progress=bar)
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
