"""Autonomous shuttle lines: vehicles run rounds of a fixed line and hold to keep headway.

A line's vehicle k first leaves its terminal (the first stop) at ``first_departure_s +
k * headway_s`` and then runs rounds: through the stops in order and back to the
terminal, dwelling ``dwell_s`` at each stop (off the road, in a bus bay) and laying
over ``layover_s`` at the terminal between rounds. One round is one trip (a fleet row).

Holding (``holding``), the control rule at each stop, applied when the dwell starts:

* ``none``: leave when the dwell (or the layover) is over;
* ``headway``: leave no earlier than ``headway_s`` after the line's previous departure
  from this stop: ``depart = max(ready, previous + headway_s)``; at the terminal the
  previous departure of a vehicle's second or later round is the latest one decided,
  and at least the last vehicle's first departure (``first_departure_s + (vehicles -
  1) * headway_s``), even if still to come: a vehicle back early waits for its own slot
  instead of leaving with another;
* ``timetable``: leave no earlier than the scheduled time.

At stops other than the terminal the hold beyond the dwell is capped at ``max_hold_s``
(passengers on board); at the terminal it is not (that is dispatching). The timetable:
the line's n-th departure from the terminal (vehicle k's round r is n = r * vehicles +
k) is due at ``first_departure_s + n * headway_s``, and each later stop ``running time x
running_time_factor`` after it, plus the dwells before it. The running time is the
free-flow time of the links up to the stop plus, at each signal on the way, the mean
wait of a vehicle arriving at a random instant of the cycle (``r^2 / 2C``,
`SignalPlan.random_arrival_wait_s`); the factor stands for the queues, turns and
traffic the schedule allows for.

Reported per line (`transit_results`): headways at stops (a departure's time since the
line's previous departure from the same stop), their coefficient of variation, bunching
events (a headway below ``bunching_share x headway_s``), the on-time share (departures
from ``on_time_early_s`` before to ``on_time_late_s`` after their scheduled time) and
the holding time; ``stops.csv`` has one row per stop departure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim.road.network import Network
from v2x_sim.road.routing import RouteTables
from v2x_sim.scenario.sections import Holding, ShuttleLine, VehicleClassParams
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.itinerary import itinerary
from v2x_sim.traffic.movement import LinkTraffic

VISIT_COLUMNS = ("line", "vehicle", "bus", "round", "stop_index", "stop", "arrive_s",
                 "depart_s", "scheduled_s", "headway_s", "held_s")


class LineControl:
    """One line's holding rule and its record of stop departures.

    Args:
        index: the line's position in ``vehicles.shuttle_lines``.
        line: its configuration.
        stop_ids: external node ids of its stops, terminal first.
        planned_run_s: timetable time from the terminal departure to each stop's
            departure (0 for the terminal).
    """

    def __init__(self, index: int, line: ShuttleLine, stop_ids: list[str],
                 planned_run_s: list[float]) -> None:
        self.index, self.line, self.stop_ids = index, line, stop_ids
        self.planned_run_s = planned_run_s
        self.last_departure = [math.nan] * len(stop_ids)
        self._terminal_decided = -math.inf  # latest terminal departure decided so far
        self.visits: dict[str, list[Any]] = {c: [] for c in VISIT_COLUMNS}

    def scheduled_s(self, bus: int, round_no: int, stop: int) -> float:
        """When the timetable has vehicle ``bus``'s round ``round_no`` leave ``stop``."""
        line = self.line
        n = round_no * line.vehicles + bus
        return line.first_departure_s + n * line.headway_s + self.planned_run_s[stop]

    def departure_s(self, bus: int, round_no: int, stop: int, ready_s: float) -> float:
        """When a vehicle ready to leave ``stop`` at ``ready_s`` leaves (the holding rule)."""
        line = self.line
        if line.holding == Holding.HEADWAY:
            previous = self.last_departure[stop]
            if stop == 0 and round_no > 0:  # departures decided but not yet made count
                previous = max(self._terminal_decided, line.first_departure_s
                               + (line.vehicles - 1) * line.headway_s)
            target = ready_s if math.isnan(previous) else previous + line.headway_s
        elif line.holding == Holding.TIMETABLE:
            target = self.scheduled_s(bus, round_no, stop)
        else:
            target = ready_s
        depart = max(ready_s, target)
        if stop > 0:
            depart = min(depart, ready_s + line.max_hold_s)
        else:
            self._terminal_decided = max(self._terminal_decided, depart)
        return depart

    def record(self, *, vehicle: int, bus: int, round_no: int, stop: int, arrive_s: float,
               ready_s: float, depart_s: float) -> None:
        """Log one departure from a stop and make it the line's latest there."""
        previous = self.last_departure[stop]
        self.last_departure[stop] = depart_s
        row = (self.line.name, vehicle, bus, round_no, stop, self.stop_ids[stop], arrive_s,
               depart_s, self.scheduled_s(bus, round_no, stop), depart_s - previous,
               depart_s - ready_s)
        for name, value in zip(VISIT_COLUMNS, row, strict=True):
            self.visits[name].append(value)

    def stop_hook(self, bus: int, round_no: int, stop_at: dict[int, int],
                  ) -> Callable[[int, int, float, float], float]:
        """The engine's hook for one round: dwell plus hold at each intermediate stop."""

        def at_stop(vehicle: int, pos: int, now: float, dwell_s: float) -> float:
            stop = stop_at[pos]
            depart = self.departure_s(bus, round_no, stop, now + dwell_s)
            self.record(vehicle=vehicle, bus=bus, round_no=round_no, stop=stop, arrive_s=now,
                        ready_s=now + dwell_s, depart_s=depart)
            return depart - now

        return at_stop


def shuttle_vehicle(env: simpy.Environment, *, control: LineControl, bus: int,
                    horizon_s: float,
                    start_round: Callable[[int, Callable[[int, float], None]], int]
                    ) -> Generator[simpy.Event, Any, None]:
    """One shuttle: rounds from its first departure until the horizon.

    ``start_round(round_no, on_arrive)`` puts a new round (a new trip row) on the road,
    returns its row, and calls ``on_arrive`` when the round ends back at the terminal.
    """
    line = control.line
    arrived = line.first_departure_s + bus * line.headway_s
    yield env.timeout(arrived)
    ready = arrived
    round_no = 0
    while env.now < horizon_s:
        depart = control.departure_s(bus, round_no, 0, ready)
        if depart > env.now:
            yield env.timeout(depart - env.now)
        if env.now >= horizon_s:
            return
        finished = env.event()

        def done(_vehicle: int, t: float, finished: simpy.Event = finished) -> None:
            finished.succeed(t)

        row = start_round(round_no, done)
        control.record(vehicle=row, bus=bus, round_no=round_no, stop=0, arrive_s=arrived,
                       ready_s=ready, depart_s=env.now)
        arrived = yield finished
        yield env.timeout(line.layover_s)
        ready = env.now
        round_no += 1


def _line_summary(control: LineControl, warmup_s: float) -> dict[str, Any]:
    line = control.line
    visits = {k: np.asarray(v) for k, v in control.visits.items()}
    counted = visits["depart_s"] >= warmup_s if len(visits["depart_s"]) else np.zeros(0, bool)
    headway = visits["headway_s"][counted].astype(float)
    headway = headway[np.isfinite(headway)]
    late = (visits["depart_s"][counted] - visits["scheduled_s"][counted]).astype(float)
    on_time = (late >= -line.on_time_early_s) & (late <= line.on_time_late_s)
    held = visits["held_s"][counted].astype(float)
    mean = float(headway.mean()) if headway.size else math.nan
    return {
        "name": line.name, "holding": str(line.holding), "vehicles": line.vehicles,
        "stops": len(control.stop_ids), "headway_target_s": line.headway_s,
        "departures": int(counted.sum()), "headways": int(headway.size),
        "headway_mean_s": mean,
        "headway_cv": float(headway.std() / mean) if headway.size > 1 and mean > 0
        else math.nan,
        "bunching_events": int((headway < line.bunching_share * line.headway_s).sum()),
        "on_time_share": float(on_time.mean()) if on_time.size else math.nan,
        "lateness_mean_s": float(late.mean()) if late.size else math.nan,
        "held_s": float(held.sum()), "holds": int((held > 0).sum()),
    }


def transit_results(controls: list[LineControl], warmup_s: float,
                    ) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The ``transit`` summary section (per line) and ``stops.csv`` (one row per departure).

    Departures before ``warmup_s`` stay in the table but out of the statistics.
    """
    table: dict[str, NDArray[Any]] = {}
    for name in VISIT_COLUMNS:
        values = [v for c in controls for v in c.visits[name]]
        table[name] = np.asarray(values, dtype=object if name in ("line", "stop") else None)
    summary = {"lines": [_line_summary(c, warmup_s) for c in controls],
               "stop_departures": len(table["line"])}
    return summary, table


def start_shuttle_lines(env: simpy.Environment, lines: list[ShuttleLine], *,
                        network: Network, fleet: VehicleTable, traffic: LinkTraffic,
                        routes: RouteTables, params: VehicleClassParams, kind: int,
                        horizon_s: float, rng: np.random.Generator,
                        on_approach: Callable[[int, int, float], None] | None = None,
                        signal_wait_s: NDArray[np.float64] | None = None,
                        ) -> list[LineControl]:
    """Put every line's vehicles on the road (as processes); returns the line controls.

    ``on_approach(vehicle, link, expected_exit_s)`` is called as a connected shuttle
    enters a link (transit signal priority requests). ``signal_wait_s`` is the mean
    signal wait per link the timetable allows for (None: none).

    Raises:
        ScenarioError: a stop is not a node, or no path runs through the stops and back.
    """
    controls = []
    for line_no, line in enumerate(lines):
        path = f"vehicles.shuttle_lines[{line_no}]"
        stops = [network.node_index(s, field_path=f"{path}.stops[{j}]")
                 for j, s in enumerate(line.stops)]
        terminal = stops[0]
        route, dwell = itinerary(routes, terminal, stops[1:], terminal, line.dwell_s)
        if not route:
            raise ScenarioError(f"{path}.stops", line.stops,
                                "no path runs through these stops in order and back")
        free_flow = network.free_flow_time_s[route]
        shortest_s = float(free_flow.sum())  # the line is the shortest
        stop_at = {pos: j + 1 for j, pos in enumerate(sorted(dwell))}
        running = free_flow if signal_wait_s is None else free_flow + signal_wait_s[route]
        planned = [0.0] + [float(running[:pos].sum()) * line.running_time_factor
                           + (j + 1) * line.dwell_s for j, pos in enumerate(sorted(dwell))]
        control = LineControl(line_no, line, [str(network.node_ids[s]) for s in stops],
                              planned[: len(stops)])
        controls.append(control)
        for bus in range(line.vehicles):
            connected = bool(rng.random() < params.connected_share)

            def start_round(round_no: int, on_arrive: Callable[[int, float], None],
                            connected: bool = connected, line_no: int = line_no,
                            route: list[int] = route, dwell: dict[int, float] = dwell,
                            terminal: int = terminal, shortest_s: float = shortest_s,
                            control: LineControl = control, bus: int = bus,
                            stop_at: dict[int, int] = stop_at) -> int:
                row = fleet.add(kind=kind, connected=connected, origin=terminal,
                                destination=terminal, depart_s=env.now, pce=params.pce,
                                line=line_no)
                fleet.shortest_s[row] = shortest_s
                traffic.stop_hooks[row] = control.stop_hook(bus, round_no, stop_at)
                if connected and on_approach is not None:
                    traffic.enter_hooks[row] = on_approach

                def arrive(vehicle: int, t: float) -> None:
                    traffic.stop_hooks.pop(vehicle, None)
                    traffic.enter_hooks.pop(vehicle, None)
                    on_arrive(vehicle, t)

                traffic.depart(row, list(route), stops=dict(dwell), on_arrive=arrive)
                return row

            env.process(shuttle_vehicle(env, control=control, bus=bus, horizon_s=horizon_s,
                                        start_round=start_round))
    return controls
