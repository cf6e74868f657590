"""The link servers' hot path: a wake-up, the exit's loop and a vehicle's entry.

These run about once per vehicle per link (~155,000 exits and ~220,000 wake-ups in the
demonstration zone's hour), so they are closures over the engine's state lists rather
than methods: a free variable is read as fast as a local, while an attribute of the
engine (an instance with ~90 attributes) is a dictionary lookup, and a method re-reads
its lists from the instance on every call. The lists are the engine's own (never
replaced, only changed in place), so the engine's other methods see every change. The
rules they implement are those of `movement` (module doc); rarer cases (a held head,
lane groups, stops, moved-on vehicles) call back into the engine.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING

from v2x_sim.traffic.timers import Wake, WakeQueue

if TYPE_CHECKING:
    from v2x_sim.traffic.movement import LinkTraffic

INF = math.inf

Serve = Callable[[int], None]
"""(link) -> None: let the vehicles at the link's exit go while they may."""
Enter = Callable[[int, int, float], None]
"""(link, vehicle, now) -> None: put a vehicle on the link at its entry."""


def link_servers(engine: LinkTraffic) -> tuple[WakeQueue, Serve, Enter]:
    """The engine's timer queue, exit server and entry, bound to its state lists.

    Call once, after the engine has made every list named here.
    """
    env = engine.env
    fleet = engine.fleet
    n_links = engine.n_links
    q_veh, q_ready, heads, head_since = (engine._q_veh, engine._q_ready, engine._head,
                                         engine._head_since)
    next_free, next_entry, entry_rate = engine._next_free, engine._next_entry, engine._entry_rate
    exit_rate, occupancy, in_held = engine.exit_rate_vps, engine.occupancy, engine._in_held
    space = engine._space
    held_of, storage, wave_s = space.held, space.storage_veh, space.wave_s
    release_at, release_pce = space.release_at, space.release_pce
    routes, route_pos, pce_of, stops = engine.routes, engine.route_pos, engine._pce, engine.stops
    entered_at, waiters = engine._entered, engine._waiters
    sig_cycle, sig_start, sig_green = engine._sig_cycle, engine._sig_start, engine._sig_green
    forced_links, turn_shares = engine._forced, engine.turn_share
    wake_at, tokens = engine._wake_at, engine._token
    length_of, lanes_of, vf_of, cap_of, kj_of, w_of, k_crit_of = (
        engine._length, engine._lanes, engine._vf, engine._cap, engine._kj, engine._w,
        engine._k_crit)
    speed_cap, speed_cap_zone = engine.speed_cap_mps, engine.speed_cap_zone_m
    speed_by_density, speed_fn = engine._speed_by_density, engine._speed_fn
    slowed, enter_hooks = engine._slowed, engine.enter_hooks
    log_vehicle, log_link = engine._log_vehicle, engine._log_link
    log_in, log_out = engine._log_in, engine._log_out

    def on_wake(event: Wake) -> None:
        server = event.server
        if event.token != tokens[server]:
            return  # replaced by an earlier timer: a no-op
        wake_at[server] = INF
        if server < n_links:
            serve_exit(server)
        else:
            engine._serve_origin(server - n_links)

    timers = WakeQueue(env, on_wake)
    push = timers.push

    def enter(link: int, vehicle: int, now: float) -> None:
        ready_list = q_ready[link]
        head = heads[link]
        length = length_of[link]
        if speed_by_density:
            moving = len(ready_list) - bisect_right(ready_list, now, head)
            density = moving / (length * lanes_of[link])
            k_crit = k_crit_of[link]
            speed = speed_fn(density if density < k_crit else k_crit, vf_of[link],
                             cap_of[link], kj_of[link], w_of[link])
        else:  # triangular: v_f at every density up to the cap, no count needed
            speed = vf_of[link]
        if slowed:  # a warned vehicle slows on the hazard link
            speed *= slowed.pop(vehicle * n_links + link, 1.0)
        ready = now + length / speed
        cap = speed_cap[link]
        if speed > cap:  # slower over the capped zone (0: the whole link)
            ready += (speed_cap_zone[link] or length) * (1.0 / cap - 1.0 / speed)
        if len(ready_list) > head:
            last = ready_list[-1]
            if last > ready:
                ready = last
        else:
            head_since[link] = now
            if ready < wake_at[link]:  # `LinkTraffic._wake` inline
                wake_at[link] = ready
                token = tokens[link] + 1
                tokens[link] = token
                push(ready, link, token)
        ready_list.append(ready)
        q_veh[link].append(vehicle)
        pce = pce_of[vehicle]
        occupancy[link] += pce
        held_of[link] += pce
        next_entry[link] = now + pce / entry_rate[link]
        entered_at[vehicle] = now
        fleet.link[vehicle] = link
        fleet.entered_s[vehicle] = now
        fleet.ready_s[vehicle] = ready
        if vehicle in enter_hooks:  # a shuttle asking for signal priority
            enter_hooks[vehicle](vehicle, link, ready)

    def serve_exit(link: int) -> None:
        now = env._now  # (`simpy.Environment.now` without the property call)
        vehicles = q_veh[link]
        ready_list = q_ready[link]
        head = heads[link]
        cycle = sig_cycle[link]
        turn_share = turn_shares[link]
        keep_since = -1.0  # the blocked head's clock, while a vehicle passes it
        at = INF  # when to look again (INF: when another server wakes this one)
        while head < len(vehicles):
            ready = ready_list[head]
            if ready > now:
                at = ready
                break
            free = next_free[link]
            if free > now:
                # not before its own lane group's headway
                at = engine._group_hold(link, head, free) if turn_share else free
                break
            if cycle > 0.0:
                phase = (now - sig_start[link]) % cycle
                # a phase within a microsecond of the cycle's end counts as the next green:
                # float rounding must not produce a wake-up at the same instant forever
                red = phase >= sig_green[link] and cycle - phase > 1e-6
                if link in forced_links:  # transit priority grants (`transit_priority`)
                    at = engine.priority.wait(link, now, red, now + cycle - phase)
                    if at > 0.0:
                        break
                    at = INF
                elif red:
                    at = now + cycle - phase
                    break
            vehicle = vehicles[head]
            pce = pce_of[vehicle]
            route = routes[vehicle]
            pos = route_pos[vehicle] + 1
            wait = dwell = 0.0
            if pos < len(route):
                nxt = route[pos]
                if vehicle in stops:
                    dwell = stops[vehicle].get(pos, 0.0)
                if dwell == 0.0:  # `LinkTraffic._entry_wait` inline
                    held = held_of[nxt]
                    if held > 0.0 and held + pce > storage[nxt]:
                        wait = space.full_until(nxt, pce, now)
                    if wait == 0.0:
                        wait = next_entry[nxt]
                        if wait <= now:
                            wait = 0.0
            else:
                nxt = -1
            rate = exit_rate[link]
            forced = False
            if rate <= 0.0 or wait == INF:
                step = engine._held_head(link, head, vehicle, nxt, ready, now, rate)
                if step is True:  # a vehicle behind passed it
                    keep_since = head_since[link]
                    continue
                if step is False:  # it waits (the link is woken)
                    break
                routes[vehicle] = route[:pos] + step  # a new list: paths may be shared
                nxt = step[0]
                forced = True
            elif wait > 0.0:  # (not worth passing a head held by the entry headway only)
                if wait != next_entry[nxt] and engine._pass_blocked(link, head, now, nxt):
                    keep_since = head_since[link]
                    continue
                at = wait
                break
            if turn_share:
                if not forced and dwell == 0.0 and nxt in turn_share:
                    group_at = engine._group_wait(link, nxt, now)
                    if group_at > 0.0:  # its lane group's headway (`lane_groups`)
                        if engine._pass_blocked(link, head, now, nxt):
                            keep_since = head_since[link]
                            continue
                        at = group_at
                        break
                    engine._group_left(link, nxt, pce, now)
                known = in_held[link]
                if known is not None and known[1] == vehicle:
                    in_held[link] = None  # the known held run has left (`lane_groups`)
            head += 1
            heads[link] = head
            head_since[link] = now if keep_since < 0.0 else keep_since
            keep_since = -1.0
            next_free[link] = now + pce / rate if rate > 0.0 else now
            occupancy[link] -= pce
            released = release_at[link]
            released.append(now + wave_s[link])  # reaches the entry
            release_pce[link].append(pce)
            if len(released) > 512:
                space.forget_released(link, now)
            entered = entered_at[vehicle]
            log_vehicle.append(vehicle)
            log_link.append(link)
            log_in.append(entered)
            log_out.append(now)
            fleet.last_link[vehicle] = link
            fleet.last_travel_s[vehicle] = now - entered
            fleet.last_exit_s[vehicle] = now
            if forced:
                engine._count_moved_on(link, vehicle, nxt, now)
            if head > 256 and head * 2 > len(vehicles):
                del vehicles[:head]
                del ready_list[:head]
                head = 0
                heads[link] = 0
            if waiters[link]:
                engine._notify_space(link, now + wave_s[link])
            if nxt < 0:
                engine._arrive(vehicle, now)
            else:
                route_pos[vehicle] = pos
                if dwell > 0.0:
                    engine._dwell(vehicle, link, pos, nxt, dwell)
                else:
                    enter(nxt, vehicle, now)
        if at < wake_at[link]:  # `LinkTraffic._wake` inline
            wake_at[link] = at
            token = tokens[link] + 1
            tokens[link] = token
            push(at, link, token)

    return timers, serve_exit, enter
