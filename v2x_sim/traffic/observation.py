"""Ground-truth observations of the road, vectorised over all links at once.

What a perfect observer sees now: the travel time a vehicle entering each link now
would experience, and each link's density. `oracle`, the belief-error metric and the
check of the sensors' estimates read these; the cloud's belief never does.

The travel time is the exit server's own rule played forward (`true_travel_time_s`):
the vehicles already on the link leave in FIFO order, each at the earliest instant that
is (a) after its earliest exit, (b) a saturation headway ``pce / rate`` after the one
ahead, (c) an entry headway after the last vehicle its next link accepted (a link
takes at most its capacity, so a queue forms at a merge) and (d) inside its approach's
effective green; the new vehicle gets its earliest
exit ``now + L / v`` (``v`` from the diagram at the current moving density, capped by
any incident speed limit, never before the vehicle ahead) and leaves by the same rule.
In steady state this is the textbook sum

    T = L / v  +  N_ahead * pce / (s * g / C)  +  red-time term,

running time, the queue ahead drained at the rate it really drains (saturation flow of
the lanes open times the green share, or less where the next links take less), and
the wait for green of the vehicle's own arrival phase, whose average over arrival
instants is Webster's uniform delay.
The drain rate also reflects downstream blocking as currently observed: while a
link's head waits for space on the next link, the link drains no faster than that
link discharges, shared among every exit waiting on it.

It is one time per link, not per movement: the lane groups (`traffic.lane_groups`) are
not in it. The queue is played forward in FIFO order at the approach's rate, whatever
movement each vehicle takes: a turn limited to its lanes' share of the rate is drained
at the whole approach's rate, and vehicles that would pass a held movement wait behind
it. So for a vehicle whose movement is the bottleneck the time is too short, for one
that would pass a held turn too long.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.road.fundamental_diagram import MIN_SPEED_MPS
from v2x_sim.road.state import BLOCKED_S

if TYPE_CHECKING:
    from v2x_sim.traffic.movement import LinkTraffic

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

def true_density_vpm(traffic: LinkTraffic) -> FloatArray:
    """Vehicles on each link now per metre of link (all lanes)."""
    link = traffic.fleet.link[traffic.fleet.unfinished()]
    return np.bincount(link[link >= 0], minlength=traffic.n_links) / traffic.network.length_m


def speed_array(traffic: LinkTraffic, density: FloatArray) -> FloatArray:
    """Speed given at entry at a moving density already capped at the critical density.

    The vectorised twin of the scalar diagrams in `fundamental_diagram`: triangular gives
    v_f on its whole free branch (up to k_c = q / v_f, the cap), Greenshields
    v_f (1 - k / k_j). The congested branch never applies at entry (see `movement`).
    """
    net = traffic.network
    vf, kj = net.free_speed_mps, net.jam_density_vpm_per_lane
    if traffic.diagram == "greenshields":
        return np.maximum(MIN_SPEED_MPS, vf * (1.0 - density / kj))
    return np.asarray(vf, dtype=np.float64).copy()


@njit(cache=True)
def _green_from(t: float, cycle: float, start: float, green: float) -> float:
    """The first instant >= t inside the effective green (the exit's signal check)."""
    if cycle <= 0.0:
        return t
    phase = (t - start) % cycle
    if phase >= green and cycle - phase > 1e-6:
        return t + cycle - phase
    return t


@njit(cache=True)
def exit_times_s(now: float, bounds: IntArray, ready_s: FloatArray, pce: FloatArray,
                 next_link: IntArray, free_at_s: FloatArray, rate_vps: FloatArray,
                 own_ready_s: FloatArray, entry_free_s: FloatArray, entry_rate_vps: FloatArray,
                 cycle_s: FloatArray, green_start_s: FloatArray,
                 green_s: FloatArray) -> FloatArray:
    """Exit instant of a one-PCE vehicle entering each link now (inf where rate is 0).

    Per link ``l`` the vehicles ahead are rows ``bounds[l]:bounds[l+1]`` of ``ready_s``,
    ``pce`` and ``next_link`` (-1: it ends its trip or stops here) in FIFO order; the
    exit recursion is ``d_i = green(max(r_i, d_{i-1} + pce_{i-1} / rate, e_k, now))``,
    with the first ``d_{-1} + headway`` being ``free_at_s`` (when the exit may next let a
    vehicle go) and ``e_k`` the instant the vehicle's next link ``k`` accepts the next
    entry (its entry headway ``pce / entry_rate``, from ``entry_free_s`` now); links
    are played one at a time, so merging streams from other links are not interleaved.
    """
    n = rate_vps.size
    out = np.empty(n)
    entry = entry_free_s.copy()
    for lk in range(n):
        rate = rate_vps[lk]
        if rate <= 0.0:
            out[lk] = np.inf
            continue
        free = max(free_at_s[lk], now)
        c, g0, g = cycle_s[lk], green_start_s[lk], green_s[lk]
        lo, hi = bounds[lk], bounds[lk + 1]
        for i in range(lo, hi):
            t = max(ready_s[i], free)
            k = next_link[i]
            if k >= 0:
                t = max(t, entry[k])
            t = _green_from(t, c, g0, g)
            if k >= 0:
                entry[k] = t + pce[i] / entry_rate_vps[k]
            free = t + pce[i] / rate
        out[lk] = _green_from(max(own_ready_s[lk], free), c, g0, g)
        for i in range(lo, hi):  # the next link's entry clock, back as it is now
            k = next_link[i]
            if k >= 0:
                entry[k] = entry_free_s[k]
    return out


def drain_rate_vps(traffic: LinkTraffic) -> FloatArray:
    """Rate each link's exit drains its queue now (veh/s).

    The exit rate of the lanes open (`LinkTraffic.exit_rate_vps`); where the head vehicle
    waits for space on the next link, at most that link's discharge (its exit rate times
    its green share) divided by the exits waiting on it.
    """
    rate = np.asarray(traffic.exit_rate_vps, dtype=np.float64)
    waiting_on = np.asarray(traffic._waiting_on[: traffic.n_links], dtype=np.int64)
    blocked = np.flatnonzero(waiting_on >= 0)
    if blocked.size:
        cycle = np.asarray(traffic._sig_cycle)
        share = np.where(cycle > 0, np.asarray(traffic._sig_green) / np.where(
            cycle > 0, cycle, 1.0), 1.0)
        nxt = waiting_on[blocked]
        sharing = np.array([max(1, len(traffic._waiters[k])) for k in nxt.tolist()])
        rate[blocked] = np.minimum(rate[blocked], rate[nxt] * share[nxt] / sharing)
    return rate


def _next_links(traffic: LinkTraffic, vehicles: IntArray) -> IntArray:
    """The link each vehicle enters next (-1 at its destination or before a stop)."""
    routes, pos, stops = traffic.routes, traffic.route_pos, traffic.stops
    out = np.full(vehicles.size, -1, np.int64)
    for i, v in enumerate(vehicles.tolist()):
        route, p = routes[v], pos[v] + 1
        if p < len(route) and not (v in stops and stops[v].get(p, 0.0) > 0.0):
            out[i] = route[p]
    return out


def true_travel_time_s(traffic: LinkTraffic) -> FloatArray:
    """The time a vehicle entering each link now would need (see the module docstring).

    Running time ``L / v`` at the current moving density (capped at critical, as for
    entering vehicles, and by any speed cap), then the exit recursion over the vehicles
    ahead with the drain rate of `drain_rate_vps` and the approach's signal; a link that
    discharges nothing now costs `BLOCKED_S` (a sentinel).
    """
    now = float(traffic.env.now)
    fleet = traffic.fleet
    out = fleet.unfinished()  # the trips still out, in ascending row order
    on = out[fleet.link[out] >= 0]
    on_link = fleet.link[on]
    ready = fleet.ready_s[on]
    order = np.lexsort((ready, on_link))
    on_link, ready, pce = on_link[order], ready[order], fleet.pce[on][order]
    next_link = _next_links(traffic, on[order])
    count = np.bincount(on_link, minlength=traffic.n_links)
    bounds = np.concatenate(([0], np.cumsum(count))).astype(np.int64)
    standing = np.bincount(on_link[ready <= now], minlength=traffic.n_links)
    net = traffic.network
    density = np.minimum((count - standing) / (net.length_m * net.lanes),
                         traffic.critical_density)
    speed = speed_array(traffic, density)
    cap = np.asarray(traffic.speed_cap_mps)
    zone_m = np.asarray(traffic.speed_cap_zone_m)  # capped length; 0: the whole link
    capped_m = np.where(zone_m > 0.0, zone_m, net.length_m)
    own_ready = now + net.length_m / speed + np.where(
        cap < speed, capped_m * (1.0 / cap - 1.0 / speed), 0.0)
    last = bounds[1:] - 1
    has = count > 0
    own_ready[has] = np.maximum(own_ready[has], ready[last[has]])
    exits = exit_times_s(now, bounds, ready, pce, next_link,
                         np.asarray(traffic._next_free, np.float64), drain_rate_vps(traffic),
                         own_ready, np.asarray(traffic._next_entry, np.float64),
                         np.asarray(traffic._entry_rate, np.float64),
                         np.asarray(traffic._sig_cycle, np.float64),
                         np.asarray(traffic._sig_start, np.float64),
                         np.asarray(traffic._sig_green, np.float64))
    return np.where(np.isfinite(exits), exits - now, BLOCKED_S)


def vehicle_positions(traffic: LinkTraffic) -> tuple[IntArray, FloatArray, FloatArray]:
    """Every vehicle on a link now: (link, offset from the link's start in m, speed m/s).

    What a roadside sensor could see. A moving vehicle goes uniformly from its entry to
    its earliest exit, at ``L / (ready - entered)``; a standing one (past its earliest
    exit) waits in the exit queue at speed 0, the queue packed from the link's end at
    jam spacing ``pce / (k_jam * lanes)`` in FIFO order. One compiled pass
    (`_positions`) over the trips still out: it runs every sensor reading round.
    """
    fleet, net = traffic.fleet, traffic.network
    return _positions(fleet.unfinished(), fleet.link, fleet.entered_s, fleet.ready_s,  # type: ignore[no-any-return]
                      fleet.pce, net.length_m, net.jam_density_vpm_per_lane,
                      np.asarray(net.lanes, np.float64), float(traffic.env.now))


@njit(cache=True)
def _positions(out, link_of, entered_s, ready_s, pce, length_m, jam_vpm, lanes,  # type: ignore[no-untyped-def]  # pragma: no cover
               now):
    """`vehicle_positions` over the rows ``out``, in their order (those on a link).

    The arithmetic is numpy's, step for step: ``clip((now - entered) / (ready -
    entered), 0, 1) * L`` for a moving vehicle; for the standing ones, sorted by (link,
    ready) with ties in row order (`np.lexsort`), a running sum of the spacings over
    all of them, each link's part measured from its first vehicle.
    """
    n = 0
    for v in out:
        if link_of[v] >= 0:
            n += 1
    on = np.empty(n, np.int64)
    link = np.empty(n, np.int64)
    offset = np.empty(n)
    speed = np.empty(n)
    moving = np.empty(n, np.bool_)
    n_standing = 0
    i = 0
    for v in out:
        lk = link_of[v]
        if lk < 0:
            continue
        on[i] = v
        link[i] = lk
        length = length_m[lk]
        duration = ready_s[v] - entered_s[v]
        share = (now - entered_s[v]) / duration if duration > 0 else 1.0
        offset[i] = (0.0 if share < 0.0 else (1.0 if share > 1.0 else share)) * length
        moving[i] = ready_s[v] > now
        if moving[i]:
            speed[i] = length / (duration if duration > 0 else 1.0)
        else:
            speed[i] = 0.0
            n_standing += 1
        i += 1
    if n_standing:
        standing = np.empty(n_standing, np.int64)
        ready = np.empty(n_standing)
        k = 0
        for j in range(n):
            if not moving[j]:
                standing[k] = j
                ready[k] = ready_s[on[j]]
                k += 1
        # by ready (stable), then by link (stable counting sort): np.lexsort's order
        by_ready = standing[np.argsort(ready, kind="mergesort")]
        top = 0
        for j in by_ready:
            top = max(top, link[j] + 1)
        first = np.zeros(top + 1, np.int64)
        for j in by_ready:
            first[link[j] + 1] += 1
        for lk in range(top):
            first[lk + 1] += first[lk]
        order = np.empty(n_standing, np.int64)
        for j in by_ready:
            order[first[link[j]]] = j
            first[link[j]] += 1
        total = 0.0
        group_ahead = 0.0
        previous = -1
        for j in order:
            lk = link[j]
            spacing = pce[on[j]] / (jam_vpm[lk] * lanes[lk])
            total += spacing
            ahead = total - spacing
            if lk != previous:
                group_ahead = ahead
                previous = lk
            offset[j] = max(length_m[lk] - (ahead - group_ahead) - spacing / 2, 0.0)
    return link, offset, speed


class ExitsSince:
    """Called, the link of every traversal completed since the previous call.

    What detectors at the links' ends count; reads the traversal log from a cursor, so
    each call costs only the rows added since.
    """

    def __init__(self, traffic: LinkTraffic) -> None:
        self._column = traffic._log_link
        self._cursor = len(self._column)

    def __call__(self) -> IntArray:
        """Links left since the previous call, in the order vehicles left them."""
        end = len(self._column)
        rows = self._column[self._cursor:end]  # a copy: the live buffer keeps growing
        self._cursor = end
        return np.frombuffer(rows, dtype=np.int64) if len(rows) else np.zeros(0, np.int64)
