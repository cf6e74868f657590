"""Stops: at a link's end between two links of a route, or along a link (a hail).

A vehicle with a stop between links leaves its link at the exit (it pulls up at the
kerb just before the junction) and dwells there before it enters its next link.
Shuttles dwell off the road (a bus bay at each stop). Delivery vehicles dwell at the
kerb: for the whole dwell one lane of the link they stop on is closed over the stopped
vehicle's own length, ``pce / k_jam`` (the work-zone mechanism of `incidents`: storage
and exit rate of the link follow), so on a one-lane link nothing passes until the dwell
ends, and on a wider link the exit discharges at ``(lanes - 1) / lanes`` of its rate
meanwhile.

Stops along a link (`Stops.kerb_along`: a vending vehicle waved down at ``x`` m) split
the link's traversal: the vehicle reaches ``x`` at its own pace, stands there for the
dwell, then drives on; it reaches the link's end the dwells later. On a one-lane link
nobody passes it: its later exit holds every vehicle that entered after it (the link
is FIFO), which in free flow is exactly the hold at ``x`` (a follower waits at ``x``
until it pulls out, then follows it to the end). On a wider link the flow passes it:
it moves with the flow and spends the stops' time off it at the link's end, while the
stop itself closes one lane at its instant (the exit rate drops by a lane for the
dwell; the lane's storage over its length is taken only once it has left the flow,
as long as it moves with the flow it is counted among the link's vehicles already).

Delay behind a kerbside stop (``KerbsideLog.delay_behind_s``), for a stop that blocks
every lane (a one-lane link, or a wider one whose other lanes other stops or an incident
close when it ends; ``full_block``): at a link's end, when it ends, the time each
vehicle then queued at that link's exit has stood there since the stop began (``t_end -
max(ready, t_start)``), summed: the hold itself; the queue's discharge afterwards is not
counted, and on a signalised approach the red within the stop is. Along a link the same,
each vehicle behind it taken to reach ``x`` at the link's free speed after its entry. On
a wider link a stop with a lane still open takes a lane's capacity (``lane_blocked_s``);
the delay that causes is not measured (0).

A stop hook (`StopHook`, e.g. a shuttle's holding rule) may lengthen a dwell when it
starts. The engine (`movement.LinkTraffic`) inherits this class and calls `_dwell`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from v2x_sim.traffic.fleet import NOT_ON_LINK, VehicleTable

StopHook = Callable[[int, int, float, float], float]
"""(vehicle, route position of its next link, now, planned dwell) -> dwell to use."""

INF = math.inf


class KerbsideLog:
    """One row per kerbside stop, as lists (a few thousand an hour at most)."""

    COLUMNS = ("vehicle", "link", "start_s", "end_s", "lanes", "full_block", "delay_behind_s")

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {c: [] for c in self.COLUMNS}

    def __len__(self) -> int:
        return len(self.rows["vehicle"])

    def add(self, **row: float) -> None:
        """Append one finished stop (every column by name)."""
        for name in self.COLUMNS:
            self.rows[name].append(row[name])


class Stops:
    """Dwells and kerbside lane blocks (the engine sets the attributes used here)."""

    env: simpy.Environment
    fleet: VehicleTable
    dwelling: int
    _lanes: list[int]
    _kj: list[float]
    _pce: list[float]
    _q_ready: list[list[float]]
    _q_veh: list[list[int]]
    _head: list[int]
    _vf: list[float]
    _entered: list[float]
    exit_rate_vps: list[float]
    set_incident: Callable[..., None]
    _queue_at_origin: Callable[[int, int], None]

    def _init_stops(self) -> None:
        self.kerbside_kinds: frozenset[int] = frozenset()
        self.stop_hooks: dict[int, StopHook] = {}
        # (vehicle, link entered, expected exit) for the vehicles listed (shuttles)
        self.enter_hooks: dict[int, Callable[[int, int, float], None]] = {}
        self.kerbside = KerbsideLog()
        # extra seconds a slow vehicle spends on a multi-lane link, passed by the flow
        self.cruise_s: dict[int, float] = {}

    def kerb_along(self, vehicle: int, link: int, stops: list[tuple[float, float, float]],
                   run_end_s: float) -> None:
        """``vehicle``, just entered ``link`` (last on it), stops at the kerb along it.

        For a vehicle slower than the traffic that is waved down (a vending vehicle);
        the rule is in the module docstring. On a one-lane link its later arrival holds
        those entering after it (the link is FIFO); on a wider link the flow passes it:
        the time it spends beyond the flow's is kept in `cruise_s`, and the caller gives
        it a stop at its next route position whose dwell is that time.

        Args:
            vehicle: the vehicle.
            link: the link it has just entered.
            stops: (position_m, start_s, dwell_s) of each stop, in order along the link
                (empty: it only cruises).
            run_end_s: when it would reach the link's end without the stops (its own
                speed, at most the flow's).
        """
        now = self.env.now
        ready = self._q_ready[link][-1]
        reach_end = run_end_s + sum(dwell for _, _, dwell in stops)
        if reach_end > ready and self._lanes[link] == 1:
            self._q_ready[link][-1] = reach_end
            self.fleet.ready_s[vehicle] = reach_end
        elif reach_end > ready:
            self.cruise_s[vehicle] = reach_end - ready
        for position, start, dwell in stops:
            def start_sale(_ev: simpy.Event, x: float = position, d: float = dwell) -> None:
                self._kerb_start(vehicle, link, x, d)
            self.env.timeout(start - now).callbacks.append(start_sale)

    def _kerb_start(self, vehicle: int, link: int, position_m: float, dwell_s: float) -> None:
        """A stop along ``link`` begins: on a wider link one lane closes for the dwell."""
        closed = self._lanes[link] > 1
        kerb_m = 0.0  # still moving with the flow: already counted on the link
        if closed:
            if self.fleet.link[vehicle] != link:
                kerb_m = self._pce[vehicle] / self._kj[link]
            self.set_incident(link, -1, lanes_closed=1, speed_cap_mps=INF,
                              capacity_factor=1.0, active=True, length_m=kerb_m)
        start = self.env.now
        self.env.timeout(dwell_s).callbacks.append(
            lambda _ev: self._kerb_end(vehicle, link, position_m, start, kerb_m, closed))

    def _kerb_end(self, vehicle: int, link: int, position_m: float, start_s: float,
                  kerb_m: float, closed: bool) -> None:
        """A stop along ``link`` ends: its row, and the lane reopens."""
        now = self.env.now
        behind = 0.0
        if not closed:  # one lane: those behind it stood at the stop from their arrival
            vehicles = self._q_veh[link]
            try:
                after = vehicles.index(vehicle, self._head[link]) + 1
            except ValueError:  # it has left already (a stop at the very end)
                after = len(vehicles)
            pace = position_m / self._vf[link]
            for other in vehicles[after:]:
                arrive = self._entered[other] + pace
                if arrive < now:
                    behind += now - max(arrive, start_s)
        self.kerbside.add(vehicle=vehicle, link=link, start_s=start_s, end_s=now,
                          lanes=self._lanes[link], full_block=not closed,
                          delay_behind_s=behind)
        if closed:
            self.set_incident(link, -1, lanes_closed=1, speed_cap_mps=INF,
                              capacity_factor=1.0, active=False, length_m=kerb_m)

    def _dwell(self, vehicle: int, link: int, pos: int, next_link: int, dwell_s: float) -> None:
        """``vehicle`` left ``link`` and dwells before ``next_link`` (route position pos)."""
        hook = self.stop_hooks.get(vehicle)
        now = self.env.now
        if hook is not None:
            dwell_s = hook(vehicle, pos, now, dwell_s)
        fleet = self.fleet
        fleet.link[vehicle] = NOT_ON_LINK
        fleet.dwell_s[vehicle] += dwell_s
        self.dwelling += 1
        slow = self.cruise_s.pop(vehicle, 0.0)  # overtaken while cruising: off the flow
        if slow > 0.0:
            self.env.timeout(slow).callbacks.append(
                lambda _ev: self._kerb(vehicle, link, next_link, dwell_s - slow))
        else:
            self._kerb(vehicle, link, next_link, dwell_s)

    def _kerb(self, vehicle: int, link: int, next_link: int, dwell_s: float) -> None:
        now = self.env.now
        if dwell_s <= 0.0:  # only the slow cruise, no sale
            self.dwelling -= 1
            self._queue_at_origin(next_link, vehicle)
            return
        # a kerbside stop closes one lane over the vehicle's own length (0: off the road)
        kerb_m = (self._pce[vehicle] / self._kj[link]
                  if int(self.fleet.kind[vehicle]) in self.kerbside_kinds else 0.0)
        if kerb_m:
            self.set_incident(link, -1, lanes_closed=1, speed_cap_mps=INF,
                              capacity_factor=1.0, active=True, length_m=kerb_m)
        timer = self.env.timeout(dwell_s)
        timer.callbacks.append(
            lambda _ev: self._end_dwell(vehicle, link, next_link, now, kerb_m))

    def _end_dwell(self, vehicle: int, link: int, next_link: int, start_s: float,
                   kerb_m: float) -> None:
        self.dwelling -= 1
        self._queue_at_origin(next_link, vehicle)  # it goes first, then the lane reopens
        if kerb_m:
            now = self.env.now
            behind = 0.0
            # every lane blocked (one lane, or the others closed by other stops or an
            # incident at the same time): nothing passed
            full = self.exit_rate_vps[link] <= 0.0
            if full:
                ready = self._q_ready[link][self._head[link]:]
                behind = sum(now - max(r, start_s) for r in ready if r < now)
            self.kerbside.add(vehicle=vehicle, link=link, start_s=start_s, end_s=now,
                              lanes=self._lanes[link], full_block=full, delay_behind_s=behind)
            self.set_incident(link, -1, lanes_closed=1, speed_cap_mps=INF,
                              capacity_factor=1.0, active=False, length_m=kerb_m)


def kerbside_results(log: KerbsideLog, kind_names: list[str], fleet_kind: Any,
                     link_ids: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``kerbside`` summary section and ``kerbside.csv`` (one row per stop).

    Summary: ``stops``, ``lane_blocked_s`` (dwell summed), ``full_blocks`` (stops that
    blocked every lane when they ended: on a one-lane link, or with the link's other
    lanes closed by other stops or an incident; nothing passed), ``delay_behind_s``
    (summed; measured for full blocks only) and its mean per stop.
    """
    rows = {k: np.asarray(v) for k, v in log.rows.items()}
    vehicle = rows["vehicle"].astype(np.int64)
    link = rows["link"].astype(np.int64)
    names = np.asarray(kind_names, dtype=object)
    table = {"vehicle": vehicle, "vehicle_class": names[np.asarray(fleet_kind)[vehicle]]
             if vehicle.size else np.zeros(0, dtype=object),
             "link": np.asarray(link_ids, dtype=object)[link] if link.size
             else np.zeros(0, dtype=object),
             "start_s": rows["start_s"].astype(float), "end_s": rows["end_s"].astype(float),
             "lanes": rows["lanes"].astype(np.int64),
             "full_block": rows["full_block"].astype(np.int64),
             "delay_behind_s": rows["delay_behind_s"].astype(float)}
    n = int(vehicle.size)
    behind = float(table["delay_behind_s"].sum())
    summary = {"stops": n, "lane_blocked_s": float((table["end_s"] - table["start_s"]).sum()),
               "full_blocks": int(table["full_block"].sum()),
               "delay_behind_s": behind, "delay_behind_mean_s": behind / n if n else None}
    return summary, table
