"""What a run produced: trip, link and event tables plus the headline summary.

`RunResult` holds plain tables (dicts of numpy arrays, column name -> array) so that
users can hand them to numpy directly, or ask for DataFrames (`RunResult.to_pandas`,
`RunResult.to_polars`); `collect_result` computes them from a finished `World`, and
`v2x_sim.load_results` reads them back from a results folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.version import __version__
from v2x_sim.compute.resilience import add_advice_latency, add_belief_effects
from v2x_sim.compute.warning_metrics import warning_effects
from v2x_sim.metrics.link_series import link_series
from v2x_sim.metrics.records import Event
from v2x_sim.metrics.trip_stats import trip_summary
from v2x_sim.road.network_table import network_table
from v2x_sim.road.signal_file import signal_table
from v2x_sim.scenario.sections import VehicleKind
from v2x_sim.tables import SCHEMA_VERSION, to_pandas, to_polars
from v2x_sim.traffic.approach_delay import approach_table, cross_priority_delay
from v2x_sim.traffic.demand import KINDS
from v2x_sim.traffic.kerbside import kerbside_results
from v2x_sim.traffic.shuttle import transit_results
from v2x_sim.traffic.vending import vending_results
from v2x_sim.v2x_model import v2x_summary, v2x_tables

if TYPE_CHECKING:
    from v2x_sim.scenario.schema import Scenario
    from v2x_sim.world import World

Table = dict[str, NDArray[Any]]


@dataclass
class RunResult:
    """The outcome of one run.

    Attributes:
        scenario: the resolved scenario.
        seed: the master seed used.
        summary: flat headline numbers (the keys of ``summary.json``) plus sections.
        trips: one row per trip: ``id, class, connected, origin, destination, depart_s,
            arrive_s, travel_time_s, free_flow_time_s, delay_s, distance_m, links,
            moved_on, origin_wait_s, dwell_s, reroutes, vehicle_class,
            shortest_free_flow_time_s, detour_s``
            (``vehicle_class`` holds class names, ``class`` the same, kept for scripts;
            NaN arrive and travel time for trips still on the road; ``reroutes`` counts
            route advice the vehicle followed). ``free_flow_time_s`` is the free-flow
            time of the path driven, ``shortest_free_flow_time_s`` that of the O–D
            shortest path (through any stops); ``delay_s`` = travel time − shortest
            free-flow time − dwell; ``detour_s`` = driven − shortest free-flow time.
        links: one row per link and time bin: ``link, from, to, t_start_s, t_end_s,
            vehicles, mean_speed_mps, speed_ratio, flow_vph, entered, exited``.
        events: notable events in time order (`Event` records; `events_table` gives
            them as columns).
        wall_s: wall-clock seconds the simulation took.
        tables: further tables by file stem: ``network`` (link geometry: ids, end nodes
            and their coordinates, length, lanes, free speed, road class, capacity, jam
            density, shape; readable back as network input) and, when the V2X
            model ran, ``latency`` (per
            kind and hop), ``latency_hist`` (their histograms' non-empty bins),
            ``edges`` (utilisation and queue per node and window),
            ``rsus`` (channel busy ratio, BSMs received), ``devices``, ``warnings`` (one
            row per hazard warning attempt).
        version: package version that produced it.
    """

    scenario: Scenario
    seed: int
    summary: dict[str, Any]
    trips: Table
    links: Table
    events: list[Event]
    wall_s: float = 0.0
    version: str = __version__
    tables: dict[str, Table] = field(default_factory=dict)

    def __repr__(self) -> str:
        """One line: scenario, seed, table sizes and a few headline numbers."""
        s = self.summary
        numbers = ", ".join(f"{key}={s[key]:,.4g}" if isinstance(s.get(key), float)
                            else f"{key}={s[key]!r}"
                            for key in ("trips_started", "trips_completed",
                                        "travel_time_mean_s", "delay_mean_s")
                            if key in s)
        tables = ", ".join(f"{name}[{_rows(t):,}]" for name, t in self.all_tables().items())
        return (f"RunResult(scenario={self.scenario.name!r}, seed={self.seed}, {numbers}, "
                f"tables: {tables})")

    def events_table(self) -> Table:
        """The events as columns ``time_s, kind, link, vehicle, detail`` (vehicle -1: none)."""
        return events_table(self.events)

    def all_tables(self) -> dict[str, Table]:
        """Every table by file stem: ``trips``, ``links``, ``events``, then `tables`."""
        return {"trips": self.trips, "links": self.links, "events": self.events_table(),
                **{k: v for k, v in self.tables.items() if v}}

    def to_pandas(self) -> dict[str, Any]:
        """Every table as a pandas DataFrame, by file stem (``trips``, ``links``, ...).

        Needs pandas (``pip install 'v2x-sim[pandas]'``). Ids are text; "none" in an
        integer column is ``<NA>`` (an ``Int64`` column).
        """
        return {name: to_pandas(table, name) for name, table in self.all_tables().items()}

    def to_polars(self) -> dict[str, Any]:
        """Every table as a polars DataFrame, by file stem (``pip install 'v2x-sim[polars]'``)."""
        return {name: to_polars(table, name) for name, table in self.all_tables().items()}


def _rows(table: Table) -> int:
    return len(next(iter(table.values()), ()))


def events_table(events: list[Event]) -> Table:
    """Events as columns ``time_s, kind, link, vehicle, detail`` (vehicle -1: none)."""
    return {"time_s": np.array([e.time_s for e in events], dtype=np.float64),
            "kind": np.array([e.kind for e in events], dtype=str),
            "link": np.array([e.link for e in events], dtype=str),
            "vehicle": np.array([-1 if e.vehicle is None else e.vehicle for e in events],
                                dtype=np.int64),
            "detail": np.array([e.detail for e in events], dtype=str)}


def _trip_table(world: World) -> Table:
    fleet, network = world.fleet, world.network
    n = len(fleet)
    log = world.traversals.to_numpy()
    veh, link = log["vehicle"], log["link"]
    length = network.length_m
    free = network.free_flow_time_s
    distance = np.bincount(veh, weights=length[link], minlength=n)
    free_flow = np.bincount(veh, weights=free[link], minlength=n)
    links = np.bincount(veh, minlength=n)
    depart = fleet.column("depart_s").copy()
    arrive = fleet.column("arrive_s").copy()
    shortest = fleet.column("shortest_s").copy()
    arrived = ~np.isnan(arrive)
    names = np.array([k.value for k in KINDS])
    classes = names[fleet.column("kind").astype(np.int64)]
    return {
        "id": np.arange(n),
        "class": classes,
        "connected": fleet.column("connected").copy(),
        "origin": network.node_ids[fleet.column("origin")],
        "destination": network.node_ids[fleet.column("destination")],
        "depart_s": depart,
        "arrive_s": arrive,
        "travel_time_s": arrive - depart,
        "free_flow_time_s": free_flow,
        "delay_s": arrive - depart - shortest - fleet.column("dwell_s"),
        "distance_m": distance,
        "links": links,
        "moved_on": fleet.column("moved_on").copy(),
        "origin_wait_s": fleet.column("first_entry_s") - depart,
        "dwell_s": fleet.column("dwell_s").copy(),
        "reroutes": fleet.column("reroutes").copy(),
        "vehicle_class": classes.copy(),  # the name YAML and trip files use for it
        "shortest_free_flow_time_s": shortest,
        "detour_s": np.where(arrived, free_flow - shortest, np.nan),
    }


def _link_table(world: World) -> tuple[Table, dict[str, Any]]:
    network, scenario = world.network, world.scenario
    horizon = world.end_s  # the horizon, or later when the run drained
    log = world.traversals.to_numpy()
    open_veh, open_link, open_in = world.traffic.open_traversals()
    link = np.concatenate([log["link"], open_link])
    t_in = np.concatenate([log["t_in"], open_in])
    t_out = np.concatenate([log["t_out"], np.full(open_link.size, horizon)])
    done = np.concatenate([np.ones(log["link"].size, bool), np.zeros(open_link.size, bool)])
    # a vehicle still on its link runs at L / (ready - t_in) until its earliest exit,
    # then stands in the exit queue: by the horizon it has covered only that share
    length = network.length_m[open_link]
    running_s = world.fleet.ready_s[open_veh] - open_in
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(running_s > 0, (horizon - open_in) / running_s, 1.0)
    covered = np.concatenate([network.length_m[log["link"]],
                              length * np.clip(share, 0.0, 1.0)])
    series = link_series(link, t_in, t_out, done, length_m=network.length_m,
                         horizon_s=horizon, bin_s=scenario.output.link_bin_s,
                         covered_m=covered)
    n_links, n_bins = series.vehicles.shape
    ratio = series.mean_speed_mps / network.free_speed_mps[:, None]
    edges = series.bin_edges_s
    table: Table = {
        "link": np.repeat(network.link_ids, n_bins),
        "from": np.repeat(network.node_ids[network.from_node], n_bins),
        "to": np.repeat(network.node_ids[network.to_node], n_bins),
        "t_start_s": np.tile(edges[:-1], n_links),
        "t_end_s": np.tile(edges[1:], n_links),
        "vehicles": series.vehicles.ravel(),
        "mean_speed_mps": series.mean_speed_mps.ravel(),
        "speed_ratio": ratio.ravel(),
        "flow_vph": series.flow_vph.ravel(),
        "entered": series.entries.ravel(),
        "exited": series.exits.ravel(),
    }
    congested = np.nan_to_num(ratio, nan=1.0) < scenario.output.congested_speed_ratio
    per_bin = congested.sum(axis=0)
    counted = edges[:-1] >= scenario.simulation.warmup_s  # bins from the warm-up on
    stats = {
        "congested_link_minutes": float((congested[:, counted]
                                         * (series.bin_s[counted] / 60.0)).sum()),
        "congested_links_max": int(per_bin[counted].max()) if counted.any() else 0,
        "congested_links_by_bin": per_bin.astype(int).tolist(),
    }
    return table, stats


def _summary(world: World, trips: Table) -> dict[str, Any]:
    sim = world.scenario.simulation
    window = (sim.warmup_s, sim.horizon_s)
    columns = {"depart_s": trips["depart_s"], "arrive_s": trips["arrive_s"],
               "free_flow_s": trips["free_flow_time_s"],
               "shortest_s": trips["shortest_free_flow_time_s"], "dwell_s": trips["dwell_s"],
               "distance_m": trips["distance_m"], "moved_on": trips["moved_on"]}
    end = world.end_s
    summary: dict[str, Any] = trip_summary(**columns, window_s=window, end_s=end)
    summary["trips_unroutable"] = world.plan.unroutable
    summary["by_class"] = {}
    for kind in VehicleKind:
        mask = trips["class"] == kind.value
        if mask.any():
            summary["by_class"][kind.value] = trip_summary(
                **{k: v[mask] for k, v in columns.items()}, window_s=window, end_s=end)
    summary["by_connected"] = {
        label: trip_summary(**{k: v[mask] for k, v in columns.items()}, window_s=window,
                            end_s=end)
        for label, mask in (("connected", trips["connected"]),
                            ("not_connected", ~trips["connected"]))
    }
    return summary


def _routing_summary(routing: dict[str, Any]) -> dict[str, Any]:
    """The ``routing`` section: how departure routes were chosen.

    For an equilibrium also its convergence (relative gap per day) and the mean trip
    time per day. Wall-clock cost and cache use stay out (``World.routing`` and the
    cache's ``equilibrium.json`` hold them): the same seed gives the same summary.
    """
    keep = ("background", "relative_gap", "iterations", "paths", "cells", "routes", "key",
            "interval_s", "cost_bin_s")
    out = {k: routing[k] for k in keep if k in routing}
    if "relative_gap_by_day" in routing:
        out["gap_by_iteration"] = list(routing["relative_gap_by_day"])
        out["mean_travel_time_s_by_iteration"] = list(routing["mean_travel_time_s"])
    return out


def _clean(value: Any) -> Any:
    """NaN and inf become None so summary.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _hazard_timing(world: World, summary: dict[str, Any]) -> None:
    """Per hazard: time to detection, to the first advice and first reroute around it.

    Adds ``time_to_detection_s``, ``time_to_first_advice_s`` and
    ``time_to_first_reroute_s`` to every ``hazards.by_hazard`` record (the last two only
    for incidents: queue tails start no rerouting clock) and to every
    ``rerouting.incidents`` entry, whose links become external ids; the rerouting
    section's ``time_to_detection_s`` is the mean over detected incidents.
    """
    records = world.v2x.hazards.records if world.v2x is not None else []
    detection = {(h.link, h.start_s): h.detect_s - h.start_s
                 for h in records if h.cause == "incident"}
    clocks = {(c.link, c.start_s): c
              for c in (world.control.clocks.clocks if world.control is not None else [])}
    for record, hazard in zip(summary.get("hazards", {}).get("by_hazard", []), records,
                              strict=True):
        clock = clocks.get((hazard.link, hazard.start_s)) if hazard.cause == "incident" \
            else None
        record["time_to_detection_s"] = hazard.detect_s - hazard.start_s
        record["time_to_first_advice_s"] = clock.time_to_first_advice_s() if clock else None
        record["time_to_first_reroute_s"] = clock.time_to_first_reroute_s() if clock else None
    rerouting = summary["rerouting"]
    if "incidents" not in rerouting:
        return
    found = []
    for entry in rerouting["incidents"]:
        seconds = detection.get((entry["link"], entry["start_s"]), math.nan)
        entry["time_to_detection_s"] = seconds
        entry["link"] = str(world.network.link_ids[entry["link"]])
        if math.isfinite(seconds):
            found.append(seconds)
    rerouting["time_to_detection_s"] = float(np.mean(found)) if found else None


def _warning_effects(world: World, hazards: dict[str, Any], travel_time_s: Any) -> None:
    """Warned before reaching each hazard, reactions and their travel times (hazards)."""
    assert world.v2x is not None  # only called with V2X
    log = world.traversals.to_numpy()
    open_veh, open_link, open_in = world.traffic.open_traversals()
    hazards.update(_clean(warning_effects(
        world.v2x.hazards.records, world.v2x.hazards.warnings,
        vehicle=np.concatenate([log["vehicle"], open_veh]),
        link_of=np.concatenate([log["link"], open_link]),
        t_in_s=np.concatenate([log["t_in"], open_in]),
        connected=world.fleet.column("connected"), travel_time_s=travel_time_s,
        by_hazard=hazards["by_hazard"])))


def _approaches(world: World) -> Table:
    """``approaches.csv``: delay per signalised approach (`traffic.approach_delay`)."""
    assert world.signals is not None
    log, net = world.traversals.to_numpy(), world.network
    return approach_table(
        log["link"], log["t_in"], log["t_out"], free_flow_s=net.free_flow_time_s,
        signalised=np.flatnonzero(world.signals.cycle_s > 0), to_node=net.to_node,
        node_ids=net.node_ids, link_ids=net.link_ids,
        warmup_s=world.scenario.simulation.warmup_s)


def _cross_delay(world: World) -> dict[str, Any]:
    """What priority grants cost the cross approaches (`traffic.approach_delay`)."""
    assert world.signals is not None
    log = world.traversals.to_numpy()
    return cross_priority_delay(
        log["link"], log["t_in"], log["t_out"], free_flow_s=world.network.free_flow_time_s,
        lost=world.traffic.priority.lost, cycle_s=world.signals.cycle_s,
        green_start_s=world.signals.green_start_s,
        warmup_s=world.scenario.simulation.warmup_s)


def collect_result(world: World) -> RunResult:
    """Gather the tables and summary of a finished run."""
    trips = _trip_table(world)
    links, congestion = _link_table(world)
    summary = {"v2x_sim_version": __version__, "schema_version": SCHEMA_VERSION,
               **_summary(world, trips)}
    summary.update(congestion)
    tables: dict[str, Table] = {"network": network_table(world.network)}
    if world.signals is not None:
        tables["signals"] = signal_table(world.signals, world.network)
        tables["approaches"] = _approaches(world)
    summary["routing"] = _clean(_routing_summary(world.routing))
    if world.v2x is not None:
        summary.update(_clean(v2x_summary(world.v2x, world.scenario.simulation.warmup_s)))
        _warning_effects(world, summary["hazards"], trips["travel_time_s"])  # fast loop
        tables.update(v2x_tables(world.v2x))
    if world.control is not None and world.control.policy.name != "none":
        tables["advice"] = world.control.advice_table()
    summary["rerouting"] = _clean(world.control.summary() if world.control else
                                  {"policy": world.scenario.control.policy})
    if world.control is not None:  # fault windows: how the belief aged and recovered
        add_belief_effects(summary.get("resilience"), world.control.stats.belief_rows)
        if "advice" in tables:
            add_advice_latency(summary.get("resilience"), tables["advice"]["decided_s"],
                               tables["advice"]["latency_s"])
    _hazard_timing(world, summary)
    summary["kerbside"], tables["kerbside"] = kerbside_results(  # actors (kerbside.py)
        world.traffic.kerbside, [k.value for k in KINDS], world.fleet.kind, world.network.link_ids)
    if world.lines:  # shuttle lines: headways, bunching, on-time (shuttle.py)
        summary["transit"], tables["stops"] = transit_results(
            world.lines, world.scenario.simulation.warmup_s)
        if world.priority is not None:  # transit signal priority (compute/priority.py)
            summary["transit"]["priority"] = {**world.priority.summary(),
                                              **_cross_delay(world)}
            tables["priority"] = world.priority.table()
    if world.vending:  # vending vehicles: hails, sales, hail-to-stop (vending.py)
        summary["vending"], tables["hails"] = vending_results(
            world.vending, tables["kerbside"], world.network.link_ids,
            world.scenario.simulation.warmup_s)
    summary["simulation"] = {
        "seed": world.seed,
        "horizon_s": world.scenario.simulation.horizon_s,
        "warmup_s": world.scenario.simulation.warmup_s,
        "drain": world.scenario.simulation.drain,
        "end_s": world.end_s,
        "network_km": world.network.total_length_m / 1000.0,
        "nodes": world.network.n_nodes,
        "links": world.network.n_links,
        "link_traversals": len(world.traversals),
    }
    return RunResult(scenario=world.scenario, seed=world.seed, summary=_clean(summary),
                     trips=trips, links=links, events=list(world.events.events),
                     wall_s=world.wall_s, tables=tables)
