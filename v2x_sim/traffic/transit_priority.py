"""Transit signal priority at the junction: what a grant does to the signal plan.

A shuttle approaching a signal asks for priority with its expected arrival at the stop
line (`decide`, run at the edge when the request arrives). With the approach's
effective green windows ``[s + kC, s + kC + g)``:

* arrival inside a green: nothing needed (``not_needed``);
* arrival ``r`` seconds after a green ended, with ``r + margin_s <= max_extension_s``:
  a **green extension** of ``r + margin_s`` from that green's end;
* arrival ``u`` seconds before the next green, with ``u + margin_s <= max_early_s``:
  an **early green** of ``u + margin_s`` before that green's start;
* otherwise ``out_of_limits``; and a junction with a grant under way (ending less than
  one cycle ago) refuses another (``busy``).

Applying a grant (`SignalOverrides.apply`): an extension keeps the approach's phase (every
approach of the junction sharing its green) green ``e`` seconds longer and starts the
other phase's next green ``e`` seconds later; an early green starts the approach's
phase ``e`` seconds early and ends the other phase's green before it ``e`` seconds
early. The cycle after is untouched (no compensation), so cross traffic loses exactly
``e`` seconds of green per conflicting approach (``cross_lost_green_s``). A grant that
reaches the controller after the instant it should act is ``late`` and does nothing (an
early green still acts from its arrival if that is before the normal start).

The engine asks `SignalOverrides.state` at its signal check: forced green or red
windows per link, ``[t0, t1)``. The ground truth's travel-time forecast does not
foresee grants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from v2x_sim.road.signals import SignalPlan


@dataclass
class Decision:
    """The edge's answer to one request."""

    outcome: str  # extension, early, not_needed, out_of_limits, busy
    seconds: float = 0.0
    at_s: float = math.nan  # when the change must start (green end, or early start)


class SignalOverrides:
    """Forced green/red windows per link, from priority grants.

    Args:
        plan: the signal plan in force.
        to_node: end node per link.
    """

    def __init__(self, plan: SignalPlan, to_node: np.ndarray) -> None:
        self.plan = plan
        self.cycle = plan.cycle_s.tolist()
        self.start = plan.green_start_s.tolist()
        self.green = plan.green_s.tolist()
        sig = np.flatnonzero(plan.cycle_s > 0)
        self.approaches: dict[int, list[int]] = {}
        for link in sig.tolist():
            self.approaches.setdefault(int(to_node[link]), []).append(link)
        self.node_of = {int(link): int(to_node[link]) for link in sig.tolist()}
        self.windows: dict[int, list[tuple[float, float, bool]]] = {}
        self.busy_until: dict[int, float] = {}
        self.lost: list[tuple[int, float, float]] = []  # (approach, from, to): green lost

    def window(self, link: int, t: float) -> tuple[float, float]:
        """The effective green window of ``link`` at or after ``t``, or containing it."""
        c, s, g = self.cycle[link], self.start[link], self.green[link]
        k = math.floor((t - s) / c)
        s0 = s + k * c
        return (s0, s0 + g) if t < s0 + g else (s0 + c, s0 + c + g)

    def decide(self, link: int, eta_s: float, now: float, *, max_extension_s: float,
               max_early_s: float, margin_s: float) -> Decision:
        """The grant for a shuttle expected at ``link``'s stop line at ``eta_s``."""
        node = self.node_of.get(link)
        if node is None:
            return Decision("not_needed")
        if now < self.busy_until.get(node, -math.inf):
            return Decision("busy")
        c, s, g = self.cycle[link], self.start[link], self.green[link]
        k = math.floor((eta_s - s) / c)
        s0 = s + k * c
        if eta_s < s0 + g:
            return Decision("not_needed")
        after_end = eta_s - (s0 + g)
        before_next = s0 + c - eta_s
        if after_end + margin_s <= max_extension_s:
            return Decision("extension", after_end + margin_s, s0 + g)
        if before_next + margin_s <= max_early_s:
            return Decision("early", before_next + margin_s, s0 + c - before_next - margin_s)
        return Decision("out_of_limits")

    def apply(self, link: int, decision: Decision, now: float) -> tuple[bool, float]:
        """Put a grant into force if it is not too late; (applied, cross lost green s)."""
        node = self.node_of[link]
        mine = [a for a in self.approaches[node]
                if self.start[a] == self.start[link] and self.green[a] == self.green[link]]
        others = [a for a in self.approaches[node] if a not in mine]
        e, at = decision.seconds, decision.at_s
        if decision.outcome == "extension":
            if now > at:
                return False, 0.0
            for a in mine:
                self._add(a, at, at + e, True)
            for a in others:  # their next green starts e later
                s0, _ = self.window(a, at)
                self._add(a, s0, s0 + e, False)
                self.lost.append((a, s0, s0 + e))
        else:  # early green: from `at`, or from now if the grant came later
            normal = at + e
            if now >= normal:
                return False, 0.0
            begin = max(at, now)
            e = normal - begin
            for a in mine:
                self._add(a, begin, normal, True)
            for a in others:  # their green before ours ends e early
                c, s, g = self.cycle[a], self.start[a], self.green[a]
                s0 = s + math.floor((normal - s) / c) * c
                end = s0 + g if s0 + g <= normal else s0 - c + g
                self._add(a, end - e, end, False)
                self.lost.append((a, end - e, end))
        self.busy_until[node] = at + e + self.cycle[link]
        return True, e * len(others)

    def _add(self, link: int, t0: float, t1: float, green: bool) -> None:
        windows = self.windows.setdefault(link, [])
        windows.append((t0, t1, green))

    def state(self, link: int, now: float) -> tuple[bool | None, float]:
        """(forced green True / red False / None, until when) for ``link`` now.

        With None the second value is the start of the next forced-green window (inf
        if none): a head waiting for the plan's green may go then.
        """
        windows = self.windows.get(link)
        nxt = math.inf
        if windows:
            keep = [w for w in windows if w[1] > now]
            if keep:
                self.windows[link] = keep
            else:
                del self.windows[link]
            for t0, t1, green in keep:
                if t0 <= now:
                    return green, t1
                if green and t0 < nxt:
                    nxt = t0
        return None, nxt

    def wait(self, link: int, now: float, red: bool, next_green_s: float) -> float:
        """The engine's signal check with grants: 0 (go) or when to look again."""
        forced, until = self.state(link, now)
        if forced is True:
            return 0.0
        if forced is False:
            return until
        return min(next_green_s, until) if red else 0.0
