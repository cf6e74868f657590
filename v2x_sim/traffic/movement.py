"""Mesoscopic, event-driven link model: link exits are servers, vehicles are rows.

Each link keeps a FIFO of the vehicles on it with their earliest exit times. A vehicle
entering link ``l`` at ``t`` while ``N`` other vehicles are *moving* on it (those not yet
standing in the exit queue) gets the speed ``v(k)`` of the fundamental diagram at density
``k = N / (L * lanes)``, capped by any incident speed limit, and the earliest exit
``t + L / v``, never before the vehicle ahead (no overtaking). At the end of the link the
exit server lets the head vehicle go when

* it has arrived (earliest exit reached),
* the saturation headway ``pce / (q * lanes_open)`` since the last departure has passed,
* the signal (if any) is green, and
* the next link can take it: it has storage left (``L * lanes * k_jam``, in PCE, where
  space freed at an exit counts only after the backward wave brought it to the entry,
  ``L / w`` later), otherwise the queue spills back and the link waits to be woken when
  space frees; and its entry headway ``pce / (q * lanes)`` has passed (a two-lane link
  cannot pour 3,000 veh/h into a one-lane link: the queue forms at the merge).

Congestion lives in the queues, not in the moving part: the density used for the speed
is capped at the critical density. Inflow is bounded by capacity, so in steady state the
moving part stays on the diagram's free branch anyway; the cap only stops transient
bursts from engaging the congested branch, where speed-at-entry feedback is unstable
(slower vehicles stay "moving" longer, raising the density further) and where the queue
would charge the same delay twice.

Each movement discharges at most its lane group's saturation flow, and a held head
vehicle holds only its own lane group until the held queue overfills it (`lane_groups`,
groups from `v2x_sim.road.lane_layout`); one blocked for ``moved_on_after_s`` is
moved on, counted, to a link with space, never through a full closure (`moving_on`).
Incidents and work zones change a link's lanes, rates and storage (`incidents`).

Vehicles that cannot enter their first link wait in the link's origin queue. Each link
(and each origin queue) has at most one live wake-up timer: rescheduling replaces the
timer by bumping a token, so a stale timer fires as a no-op instead of doing work. That
keeps the kernel at about one event per vehicle per link. The exit's loop and a vehicle's
entry, which run that often, are closures over this engine's state (`link_server`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

from v2x_sim.metrics.records import ColumnLog, EventLog
from v2x_sim.road.fundamental_diagram import (
    SpeedFunction,
    critical_density,
    triangular_speed,
    wave_speed,
)
from v2x_sim.road.movements import TurnRules
from v2x_sim.road.network import Network
from v2x_sim.road.signals import SignalPlan
from v2x_sim.traffic.fleet import NOT_ON_LINK, VehicleTable
from v2x_sim.traffic.interventions import Interventions
from v2x_sim.traffic.kerbside import Stops
from v2x_sim.traffic.lane_groups import LaneGroups
from v2x_sim.traffic.link_queries import LinkQueries
from v2x_sim.traffic.link_server import Enter, Serve, link_servers
from v2x_sim.traffic.moving_on import MoveOn
from v2x_sim.traffic.storage import LinkStorage
from v2x_sim.traffic.transit_priority import SignalOverrides

INF = math.inf


class LinkTraffic(Stops, LinkQueries, LaneGroups, Interventions):
    """Moves vehicles through the network; the road's ground truth.

    Args:
        env: the simpy environment.
        network: the road network.
        fleet: the trip table (rows are written as vehicles move).
        speed_function: fundamental diagram, see `fundamental_diagram`.
        diagram: its name (for capacity under speed caps).
        signals: per-link signal plan.
        lane_masks: per link, next link -> lanes its movement uses (`lane_groups`).
        moved_on_after_s: waiting limit at a link's end before a forced move.
        u_turns_anywhere: follow new routes that turn back at any node (else dead ends).
        traversals: log receiving (vehicle, link, t_in, t_out) per completed link.
        events: log of notable events.
    """

    _serve_exit: Serve  # (link): let its exit's vehicles go while they may
    _enter: Enter  # (link, vehicle, now): a vehicle enters the link

    def __init__(self, env: simpy.Environment, network: Network, fleet: VehicleTable, *,
                 speed_function: SpeedFunction, diagram: str, signals: SignalPlan,
                 moved_on_after_s: float, traversals: ColumnLog, events: EventLog,
                 lane_masks: list[dict[int, int]], u_turns_anywhere: bool = False) -> None:
        self.env = env
        self.network = network
        self.fleet = fleet
        self.events = events
        self._speed_fn = speed_function
        # the triangular diagram gives v_f at every density up to the critical one (the
        # cap), so a vehicle's entry speed needs no count of the vehicles moving ahead
        self._speed_by_density = speed_function is not triangular_speed
        self._limit = moved_on_after_s
        self.n_links = n = network.n_links
        # static link parameters as Python lists: scalar access in the hot path
        self._length = network.length_m.tolist()
        self._lanes = network.lanes.tolist()
        self._vf = network.free_speed_mps.tolist()
        self._cap = network.capacity_vps_per_lane.tolist()
        self._kj = network.jam_density_vpm_per_lane.tolist()
        self._w = [wave_speed(v, q, k)
                   for v, q, k in zip(self._vf, self._cap, self._kj, strict=True)]
        self.wave_speed_mps = self._w
        wave_s = [x / w for x, w in zip(self._length, self._w, strict=True)]  # L / w
        self._space = space = LinkStorage(network.storage_veh.tolist(), wave_s)
        self._held, self._release_at, self._wave_s = space.held, space.release_at, space.wave_s
        self._move_on = MoveOn(network)
        self._turns = TurnRules(network, u_turns_anywhere=u_turns_anywhere)
        self._k_crit = [critical_density(diagram, v, q, k)
                        for v, q, k in zip(self._vf, self._cap, self._kj, strict=True)]
        self.critical_density = np.asarray(self._k_crit)
        self.diagram = diagram
        self._to_node = network.to_node.tolist()
        self._ext_link = network.link_ids.tolist()
        self._sig_cycle = signals.cycle_s.tolist()
        self._sig_start = signals.green_start_s.tolist()
        self._sig_green = signals.green_s.tolist()
        self.priority = SignalOverrides(signals, network.to_node)
        self._forced = self.priority.windows
        self.speed_cap_mps, self.speed_cap_zone_m = [INF] * n, [0.0] * n
        self.exit_rate_vps = [q * m for q, m in zip(self._cap, self._lanes, strict=True)]
        self._entry_rate = list(self.exit_rate_vps)
        self._active: list[list[tuple[int, float, float, float]]] = [[] for _ in range(n)]
        # live link state
        self._q_veh: list[list[int]] = [[] for _ in range(n)]
        self._q_ready: list[list[float]] = [[] for _ in range(n)]
        self._head = [0] * n
        self._head_since = [0.0] * n
        self._next_free = [0.0] * n
        self._next_entry = [0.0] * n
        self.occupancy = [0.0] * n
        self._waiters: list[list[int]] = [[] for _ in range(n)]
        self._waiting_on = [-1] * (2 * n)
        self._origin_q: list[deque[int]] = [deque() for _ in range(n)]
        self._wake_at = [INF] * (2 * n)
        self._token = [0] * (2 * n)
        # per-vehicle routing state (Python lists, indexed by trip id)
        self.routes: list[list[int]] = []
        self.route_pos: list[int] = []
        self.stops: dict[int, dict[int, float]] = {}
        self._pce: list[float] = []
        self._entered: list[float] = []
        self._on_arrive: dict[int, Callable[[int, float], None]] = {}
        # warned vehicles that will drive a hazard link slower: vehicle * n + link -> factor
        self._slowed: dict[int, float] = {}
        self.arrived = 0
        self.moved_on = 0
        self.dwelling = 0
        self._init_stops()  # kerbside stops and stop hooks (`kerbside`)
        self._init_lane_groups(lane_masks)  # turn capacities, passing (`lane_groups`)
        self._log_vehicle, self._log_link = traversals.column("vehicle"), traversals.column("link")
        self._log_in, self._log_out = traversals.column("t_in"), traversals.column("t_out")
        # the hot path: wake-ups, exits and entries (`link_server`), over the lists above
        self._timers, self._serve_exit, self._enter = link_servers(self)

    # ------------------------------------------------------------------ public API
    def depart(self, vehicle: int, route: list[int], *, stops: dict[int, float] | None = None,
               on_arrive: Callable[[int, float], None] | None = None) -> None:
        """Put a new trip (already a row in the fleet) at the start of its route, now.

        Args:
            vehicle: trip id.
            route: link indices from origin to destination (non-empty).
            stops: dwell seconds keyed by the route position of the link entered after it.
            on_arrive: called with (vehicle, time) when the trip ends.
        """
        while len(self.routes) <= vehicle:
            self.routes.append([])
            self.route_pos.append(0)
            self._pce.append(1.0)
            self._entered.append(0.0)
        self.routes[vehicle] = route
        self.route_pos[vehicle] = 0
        self._pce[vehicle] = float(self.fleet.pce[vehicle])
        if stops:
            self.stops[vehicle] = stops
        if on_arrive is not None:
            self._on_arrive[vehicle] = on_arrive
        self._queue_at_origin(route[0], vehicle)

    # ------------------------------------------------------------------ timers
    def _wake(self, server: int, at: float) -> None:
        if at >= self._wake_at[server]:
            return
        self._wake_at[server] = at
        token = self._token[server] + 1
        self._token[server] = token
        self._timers.push(at, server, token)

    def _notify_space(self, link: int, at: float) -> None:
        """Wake the servers waiting for space on ``link`` at ``at``."""
        waiters = self._waiters[link]
        if not waiters:
            return
        self._waiters[link] = []
        for server in waiters:
            self._waiting_on[server] = -1
            self._wake(server, at)

    def _wait_for_space(self, server: int, link: int) -> None:
        if self._waiting_on[server] != link:
            self._waiting_on[server] = link
            self._waiters[link].append(server)

    # ------------------------------------------------------------------ movement
    def _entry_wait(self, link: int, pce: float, now: float) -> float:
        """When ``link`` can take a vehicle: 0 now, a later time, or INF when full.

        A later time comes from the entry headway or the next space the backward wave
        brings to the entry (`storage`); INF means no space is on its way.
        """
        held = self._held[link]
        if held > 0.0 and held + pce > self._space.storage_veh[link]:  # nearly full
            full = self._space.full_until(link, pce, now)
            if full > 0.0:
                return full
        free = self._next_entry[link]
        return free if free > now else 0.0

    def _queue_at_origin(self, link: int, vehicle: int) -> None:
        queue = self._origin_q[link]
        queue.append(vehicle)
        if len(queue) == 1:
            self._serve_origin(link)

    def _serve_origin(self, link: int) -> None:
        queue = self._origin_q[link]
        now = self.env.now
        fleet = self.fleet
        server = self.n_links + link
        while queue:
            vehicle = queue[0]
            wait = self._entry_wait(link, self._pce[vehicle], now)
            if wait == INF:
                self._wait_for_space(server, link)
                return
            if wait > 0.0:
                self._wake(server, wait)
                return
            queue.popleft()
            if math.isnan(fleet.first_entry_s[vehicle]):
                fleet.first_entry_s[vehicle] = now
            self._enter(link, vehicle, now)

    def _held_head(self, link: int, head: int, vehicle: int, nxt: int, ready: float,
                   now: float, rate: float) -> list[int] | bool:
        """``link``'s head cannot go: its next link is full, or the exit is closed.

        Past the waiting limit it is moved on (returns its new route tail); before it,
        a vehicle behind may pass it (True); otherwise the link waits, woken at the
        limit or when space frees (False).
        """
        # compare against the same sum we schedule: `now - since < limit` can
        # disagree with `since + limit` by one ulp and spin at one instant
        deadline = max(ready, self._head_since[link]) + self._limit
        tail = None if now < deadline else self._detour(link, vehicle, nxt)
        if tail is not None:
            return tail
        if now >= deadline:  # nowhere to go: wait one more limit
            self._head_since[link] = now
            deadline = now + self._limit
        if rate > 0.0:
            self._wait_for_space(link, nxt)
            if self._pass_blocked(link, head, now, nxt):
                return True
        self._wake(link, deadline)
        return False

    def _count_moved_on(self, link: int, vehicle: int, blocked_on: int, now: float) -> None:
        """``vehicle``, held past the limit behind ``blocked_on``, was moved on from ``link``."""
        self.moved_on += 1
        self.fleet.moved_on[vehicle] += 1
        self.events.add(now, "moved_on", link=self._ext_link[link], vehicle=vehicle,
                        detail=self._move_on.detail(link, blocked_on, self._limit))

    def _arrive(self, vehicle: int, now: float) -> None:
        fleet = self.fleet
        fleet.link[vehicle] = NOT_ON_LINK
        fleet.arrive_s[vehicle] = now
        self.arrived += 1
        callback = self._on_arrive.pop(vehicle, None)
        self.stops.pop(vehicle, None)
        if callback is not None:
            callback(vehicle, now)

    def _detour(self, link: int, vehicle: int, blocked_on: int) -> list[int] | None:
        """A moved-on vehicle's new route tail (`moving_on`); None: it waits (or has stops)."""
        if vehicle in self.stops:
            return None
        pce, now = self._pce[vehicle], self.env.now
        return self._move_on.new_tail(
            link, self._to_node[self.routes[vehicle][-1]], blocked_on,
            lambda cand: self._entry_wait(cand, pce, now) != INF)
