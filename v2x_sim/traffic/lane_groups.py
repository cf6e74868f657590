"""Lane groups at a link's exit: who may pass a held head vehicle, and turn capacities.

Each outgoing movement of a link (the next link a vehicle takes) uses some of the
approach's lanes, its lane group (`v2x_sim.road.lane_layout`: from the links' geometry,
or from a network file's connections); leaving the road at the link's end (a
destination, a stop) uses every lane. Two rules follow.

- **Turn capacity.** A movement whose group has ``g`` of the link's ``n`` lanes
  discharges at most ``g / n`` of the exit's rate (``g`` lanes' saturation flow,
  ``pce / (q * g)`` between its departures), beside the approach's own headway
  ``pce / (q * n_open)``: on three lanes with one right-turn lane, a stream of right
  turners leaves at one lane's saturation flow.
- **Passing a held head.** A head vehicle whose movement is held (its next link is full
  or not yet taking vehicles, or its group's headway has not passed) holds only its own
  lanes: a vehicle behind it whose movement may use a lane the held ones do not leaves
  first, as long as the held vehicles ahead of it fit in their lanes (``g * L * k_jam``
  for the union of the held groups' ``g`` lanes). Once they do not, the held queue has
  spilled back into the shared section and blocks every movement behind it (FIFO
  again); a vehicle whose every lane is a held group's waits in it. A link without lane
  groups (one lane, or every movement on every lane) is one queue: its head blocks
  everyone behind it.

The signal stays per approach, shared by all movements (no protected phases).
"""

from __future__ import annotations

from collections.abc import Callable

from v2x_sim.traffic.storage import LinkStorage

INF = float("inf")

MAX_SCAN = 1000
"""Vehicles behind a blocked head looked at for another movement (bounds the work; the
scan stops earlier at the first vehicle still moving, and runs only while the link has
room, so in practice it is bounded by the link's storage)."""


def first_free_movement(vehicles: list[int], ready_s: list[float], head: int, now: float,
                        blocked: int, *, routes: list[list[int]], route_pos: list[int],
                        stops: dict[int, dict[int, float]], groups: dict[int, int],
                        every: int, wait_for: Callable[[int, int], float],
                        lane_storage_veh: float, start: int = -1, in_held: int = -1,
                        ) -> tuple[int, float, list[int], int]:
    """The first vehicle behind ``head`` that may leave now on a movement not held.

    Args:
        vehicles: the link's vehicles in FIFO order.
        ready_s: their earliest exit instants (non-decreasing).
        head: index of the first (the held head vehicle).
        now: the current instant.
        blocked: the head's next link (its movement is held).
        routes: the vehicles' routes (link lists).
        route_pos: each vehicle's position on its route.
        stops: dwell seconds by route position: a vehicle with a dwell before its next
            link, like one at its destination, leaves the road at the link's end.
        groups: the link's lane groups, next link -> lane mask (absent: every lane).
        every: the mask of every lane of the link.
        wait_for: (vehicle, next link) -> 0 if it can go now, else when (INF: the next
            link is full).
        lane_storage_veh: vehicles one lane holds; held vehicles ahead beyond their
            lanes' storage block everyone behind them.
        start: where to start looking (-1: right behind the head); the vehicles from
            the head up to it must be known to use only the held movement's lanes (ready,
            they would all be passed over).
        in_held: the last of those (-1: none).

    Returns:
        (index of the vehicle or -1, the earliest instant worth looking again (INF:
        none), the full next links the vehicles looked at wait for, the last vehicle
        of the unbroken run behind the head that uses only the held movement's lanes).
    """
    held = groups.get(blocked, every)
    held_on = {blocked}
    again = INF
    full: list[int] = []
    limit = lane_storage_veh * held.bit_count() + 1e-9
    start = head + 1 if start < 0 else start
    if start - 1 - head > limit:  # the known run alone overfills the held lanes
        return -1, again, full, in_held
    run = True  # still in the run of vehicles in the first held lanes
    for i in range(start, min(len(vehicles), head + 1 + MAX_SCAN)):
        if held == every:
            return -1, again, full, in_held
        if ready_s[i] > now:
            return -1, min(again, ready_s[i]), full, in_held
        if i - head > limit:  # the held ones overfill their lanes
            return -1, again, full, in_held
        vehicle = vehicles[i]
        pos, route = route_pos[vehicle] + 1, routes[vehicle]  # its next link
        if pos >= len(route) or (vehicle in stops and stops[vehicle].get(pos, 0.0) > 0.0):
            nxt, mask = -1, every
        else:
            nxt = route[pos]
            mask = groups.get(nxt, every)
        if nxt in held_on or not mask & ~held:  # it waits in the held lanes
            if run:
                in_held = vehicle
            continue
        run = False
        wait = wait_for(vehicle, nxt)
        if wait == 0.0:
            return i, again, full, in_held
        held_on.add(nxt)
        held |= mask
        limit = lane_storage_veh * held.bit_count() + 1e-9
        if wait == INF:
            full.append(nxt)
        else:
            again = min(again, wait)
    return -1, again, full, in_held


class LaneGroups:
    """Turn capacities and passing at link exits (the engine sets the attributes used).

    The engine (`movement.LinkTraffic`) inherits this class, calls `_init_lane_groups`,
    asks `_group_wait` before a head vehicle leaves, `_group_left` after, and
    `_pass_blocked` when its head is held.
    """

    _lanes: list[int]
    _length: list[float]
    _kj: list[float]
    _q_veh: list[list[int]]
    _q_ready: list[list[float]]
    _pce: list[float]
    _space: LinkStorage
    _waiters: list[list[int]]
    occupancy: list[float]
    exit_rate_vps: list[float]
    routes: list[list[int]]
    route_pos: list[int]
    stops: dict[int, dict[int, float]]

    _entry_wait: Callable[[int, float, float], float]  # (link, pce, now) -> wait
    _wake: Callable[[int, float], None]  # (server, at)

    def _init_lane_groups(self, masks: list[dict[int, int]]) -> None:
        """Keep each link's lane masks and, for groups narrower than the link, their share.

        Args:
            masks: per link, next link -> lanes its movement uses (empty: no groups).
        """
        self._groups = masks
        self._every_lane = [(1 << n) - 1 for n in self._lanes]
        self.turn_share = [{nxt: mask.bit_count() / n for nxt, mask in groups.items()
                            if mask != (1 << n) - 1}
                           for groups, n in zip(masks, self._lanes, strict=True)]
        self._group_free: list[dict[int, float]] = [{} for _ in masks]
        # per link: (held lanes, the last vehicle of the run behind the head known to
        # use only them): a later scan for the same held lanes starts after it
        self._in_held: list[tuple[int, int] | None] = [None] * len(masks)

    def _group_wait(self, link: int, nxt: int, now: float) -> float:
        """0 if ``nxt``'s lane group on ``link`` may discharge now, else when it may."""
        free = self._group_free[link].get(nxt, 0.0)
        return free if free > now else 0.0

    def _group_left(self, link: int, nxt: int, pce: float, now: float) -> None:
        """A vehicle of movement ``nxt`` left ``link``: its group's headway starts."""
        share = self.turn_share[link].get(nxt)
        rate = self.exit_rate_vps[link]
        if share is not None and rate > 0.0:
            self._group_free[link][nxt] = now + pce / (rate * share)

    def _group_hold(self, link: int, head: int, free: float) -> float:
        """When to look at ``link``'s exit again, its approach headway ending at ``free``.

        Later than ``free`` when the head's lane group is still held then and nobody
        behind it arrives before the hold ends (a wake-up at ``free`` would find the
        head held and nobody to pass it).
        """
        vehicles, ready_list = self._q_veh[link], self._q_ready[link]
        if head + 1 < len(vehicles) and ready_list[head + 1] <= free:
            return free  # someone behind may pass at ``free`` (or the head may go)
        vehicle = vehicles[head]
        pos, route = self.route_pos[vehicle] + 1, self.routes[vehicle]
        if pos >= len(route) or (vehicle in self.stops
                                 and self.stops[vehicle].get(pos, 0.0) > 0.0):
            return free
        held_until = self._group_free[link].get(route[pos], 0.0)
        if held_until > free and (head + 1 >= len(vehicles)
                                  or ready_list[head + 1] > held_until):
            return held_until
        return free

    def _pass_blocked(self, link: int, head: int, now: float, blocked: int) -> bool:
        """Move a vehicle of a movement not held ahead of the held head (module doc)."""
        groups = self._groups[link]
        if not groups or self.occupancy[link] + 1.0 > self._space.storage_veh[link]:
            return False
        vehicles, ready_list, pce = self._q_veh[link], self._q_ready[link], self._pce
        if head + 1 >= len(vehicles) or ready_list[head + 1] > now:  # nobody to pass yet
            if head + 1 < len(vehicles):
                self._wake(link, ready_list[head + 1])
            return False
        every = self._every_lane[link]
        held = groups.get(blocked, every)
        if held == every:
            return False

        def wait_for(vehicle: int, nxt: int) -> float:
            if nxt < 0:
                return 0.0
            return max(self._entry_wait(nxt, pce[vehicle], now),
                       self._group_wait(link, nxt, now))

        start, known = head + 1, -1
        memo = self._in_held[link]
        if memo is not None and memo[0] == held:  # skip the run known to be held
            known = memo[1]
            try:
                start = vehicles.index(known, head) + 1
            except ValueError:  # it has left: so has the whole run
                known = -1
        i, again, full, known = first_free_movement(
            vehicles, ready_list, head, now, blocked, routes=self.routes,
            route_pos=self.route_pos, stops=self.stops, groups=groups,
            every=every, wait_for=wait_for,
            lane_storage_veh=self._length[link] * self._kj[link], start=start,
            in_held=known)
        self._in_held[link] = (held, known) if known >= 0 else None
        if again < INF:
            self._wake(link, again)
        for k in full:  # woken when space frees there (a link waits on one link at most)
            if link not in self._waiters[k]:
                self._waiters[k].append(link)
        if i < 0:
            return False
        vehicles.insert(head, vehicles.pop(i))
        ready_list.pop(i)
        ready_list.insert(head, ready_list[head])  # keeps the list sorted: both are <= now
        return True
