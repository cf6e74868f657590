"""Movements at a link's exit: who may pass a head vehicle blocked downstream.

Each outgoing movement of a link (the next link a vehicle takes, or leaving the road
at its destination or a stop) has its own lane group at the exit. A vehicle whose
movement is blocked (its next link is full or not yet taking vehicles) holds only its
own movement: on a link of two or more lanes, a vehicle of another movement behind it
may leave first, as long as the blocked vehicles ahead of it fit in one lane (``L *
k_jam`` vehicles, the blocked movement's lane group). Once they do not, the blocked
queue has spilled back into the shared section and blocks every movement behind it
(FIFO again). A one-lane link is one lane group for every movement: its head blocks
everyone behind it. Signals and the exit's saturation
headway are per approach, shared by all movements.
"""

from __future__ import annotations

from collections.abc import Callable

INF = float("inf")

MAX_SCAN = 1000
"""Vehicles behind a blocked head looked at for another movement (bounds the work; the
scan stops earlier at the first vehicle still moving, and runs only while the link has
room, so in practice it is bounded by the link's storage)."""


def first_free_movement(vehicles: list[int], ready_s: list[float], head: int, now: float,
                        blocked: int, next_link: Callable[[int], int],
                        entry_wait: Callable[[int, int], float], lane_storage_veh: float,
                        ) -> tuple[int, float, list[int]]:
    """The first vehicle behind ``head`` that may leave now on a free movement.

    Args:
        vehicles: the link's vehicles in FIFO order.
        head: index of the first (the blocked head vehicle).
        ready_s: their earliest exit instants (non-decreasing).
        now: the current instant.
        blocked: the head's next link (its movement is blocked).
        next_link: a vehicle's next link (-1: it leaves the road here).
        entry_wait: (vehicle, next link) -> 0 if it can enter now, else when (INF: full).
        lane_storage_veh: vehicles one lane holds; blocked vehicles ahead beyond it
            block everyone behind them.

    Returns:
        (index of the vehicle or -1, the earliest instant worth looking again (INF:
        none), the full next links the vehicles looked at wait for).
    """
    blocked_on = {blocked}
    again = INF
    full: list[int] = []
    for i in range(head + 1, min(len(vehicles), head + 1 + MAX_SCAN)):
        if ready_s[i] > now:
            return -1, min(again, ready_s[i]), full
        if i - head > lane_storage_veh + 1e-9:  # the blocked ones ahead overfill their lane
            return -1, again, full
        vehicle = vehicles[i]
        nxt = next_link(vehicle)
        if nxt in blocked_on:
            continue
        wait = entry_wait(vehicle, nxt) if nxt >= 0 else 0.0
        if wait == 0.0:
            return i, again, full
        blocked_on.add(nxt)
        if wait == INF:
            full.append(nxt)
        else:
            again = min(again, wait)
    return -1, again, full


def exit_movement(routes: list[list[int]], route_pos: list[int],
                  stops: dict[int, dict[int, float]], vehicle: int) -> int:
    """The next link of ``vehicle`` at its link's exit; -1: it leaves the road there.

    It leaves the road at its destination, or to dwell at a stop before its next link.
    """
    pos, route = route_pos[vehicle] + 1, routes[vehicle]
    if pos >= len(route) or stops.get(vehicle, {}).get(pos, 0.0) > 0.0:
        return -1
    return route[pos]
