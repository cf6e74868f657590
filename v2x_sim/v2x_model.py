"""Builds the communication and compute side of a world: devices, channels, queues, loops.

`world.py` calls `build_v2x` when ``v2x.enabled``; the traffic side is reached only
through the injected `senders` view (connected vehicles on links as arrays), so the
compute packages never import traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim.comms.channels import FibreLink, Pc5Channel, UuChannel, WanPath
from v2x_sim.comms.messages import Hop, MessageKind
from v2x_sim.compute.background import BackgroundFlows, Channels, CloudFeeds, Senders
from v2x_sim.compute.estimator import EdgeSensing, RoadFacts
from v2x_sim.compute.failover import Failover
from v2x_sim.compute.faults import FaultPlan
from v2x_sim.compute.hazards import HazardLoop
from v2x_sim.compute.resilience import resilience_summary
from v2x_sim.compute.roadside import DEVICE_NAMES, Coverage, Devices, build_coverage, build_devices
from v2x_sim.compute.sensors import SensorZones, build_zones, watched_length_m
from v2x_sim.compute.servers import ServerPool
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.road.network import Network
from v2x_sim.scenario.schema import Scenario
from v2x_sim.scenario.v2x_sections import BackgroundLoad
from v2x_sim.tables.schema import edge_node_id


@dataclass
class V2XModel:
    """Everything of the road-vehicle-cloud loop in one run."""

    devices: Devices
    coverage: Coverage
    channels: Channels
    book: LatencyBook
    edges: list[ServerPool]
    cloud: ServerPool
    flows: BackgroundFlows
    hazards: HazardLoop
    zones: SensorZones


def deadlines_s(scenario: Scenario) -> list[float]:
    """Deadline per `MessageKind`, in kind order."""
    m = scenario.messages
    by_kind = {MessageKind.BSM: m.bsm.deadline_s, MessageKind.STATUS: m.status.deadline_s,
               MessageKind.PERCEPTION: m.perception_deadline_s,
               MessageKind.AGGREGATE: m.aggregate.deadline_s,
               MessageKind.HAZARD_WARNING: m.hazard_warning_deadline_s,
               MessageKind.ROUTE_ADVICE: m.route_advice_deadline_s}
    return [by_kind[k] for k in MessageKind]


def build_v2x(env: simpy.Environment, scenario: Scenario, network: Network, senders: Senders,
              rng: Callable[[str], np.random.Generator],
              feeds: CloudFeeds | None = None) -> V2XModel:
    """Place devices, build channels and queues, start the tick process.

    ``feeds`` (optional) connects the cloud's belief to status reports and aggregates;
    the sensors' zones and the edge's estimator are built here (noise from the
    ``sensors`` stream).
    """
    signalised = feeds.road.cycle_s > 0 if feeds is not None and feeds.road is not None else None
    devices = build_devices(network, scenario.roadside, scenario.edge, signalised)
    coverage = build_coverage(network, devices)
    zones = build_zones(network, devices)
    if feeds is not None and feeds.positions is not None:
        feeds.sensing = EdgeSensing(zones, feeds.road or RoadFacts.of(network),
                                    feeds.positions, feeds.exits, rng("sensors"),
                                    deterministic=scenario.simulation.deterministic,
                                    interval_s=1.0 / scenario.messages.aggregate.rate_hz)
    fibre = FibreLink.from_params(scenario.channels.fibre)
    channels = Channels(pc5=Pc5Channel.from_params(scenario.channels.pc5),
                        uu=UuChannel.from_params(scenario.channels.uu), fibre=fibre,
                        wan=WanPath.from_params(fibre, scenario.cloud),
                        rsu_hops=scenario.channels.fibre.rsu_hops)
    deadlines = deadlines_s(scenario)
    book = LatencyBook([k.key for k in MessageKind], [h.key for h in Hop], deadlines)
    horizon = scenario.simulation.latest_end_s  # with drain the run may go on past horizon_s
    deadline_array = np.asarray(deadlines)
    tick = scenario.v2x.tick_s
    edges = [ServerPool(f"edge-{e}", scenario.edge.cores, deadline_array, horizon, tick)
             for e in range(devices.n_edges)]
    cloud = ServerPool("cloud", scenario.cloud.cores, deadline_array, horizon, tick)
    deterministic = scenario.simulation.deterministic
    failover = Failover(scenario.edge.failover.value, devices.edge_x_m, devices.edge_y_m,
                        fibre, scenario.edge.failover_hops, channels.wan.delay_s)
    faults = (FaultPlan.build(list(scenario.faults), devices, len(MessageKind), rng, failover)
              if scenario.faults else None)
    flows = BackgroundFlows(
        env, network=network, devices=devices, coverage=coverage, channels=channels,
        edges=edges, cloud=cloud, book=book, senders=senders,
        config=(scenario.roadside, scenario.edge, scenario.cloud, scenario.messages),
        rng=rng, tick_s=scenario.v2x.tick_s, horizon_s=horizon, deterministic=deterministic,
        feeds=feeds, background_load=scenario.v2x.background == BackgroundLoad.FULL,
        faults=faults)
    env.process(flows.process())
    hazards = HazardLoop(env, flows=flows, senders=senders, v2x=scenario.v2x,
                         edge=scenario.edge, book=book, rng=rng("hazards"),
                         deterministic=deterministic)
    if scenario.v2x.queue_tails:
        env.process(hazards.watch_queue_tails())
    return V2XModel(devices, coverage, channels, book, edges, cloud, flows, hazards, zones)


def v2x_summary(model: V2XModel, warmup_s: float = 0.0) -> dict[str, Any]:
    """The ``latency``, ``edges``, ``roadside``, ``hazards`` and ``resilience`` sections.

    Edge load is averaged over the time slots from ``warmup_s`` on (the other sections'
    accumulators restart at the warm-up: `v2x_sim.warmup`).
    """
    devices, flows = model.devices, model.flows
    cbr = flows.mean_cbr()
    edges = {}
    for pool in (*model.edges, model.cloud):
        counted = pool.slot_start_s >= warmup_s
        util, queue = pool.utilisation()[counted], pool.queue_length()[counted]
        edges[pool.name] = {
            "cores": pool.cores,
            "utilisation_mean": float(util.mean()) if util.size else 0.0,
            "utilisation_max": float(util.max()) if util.size else 0.0,
            "queue_mean": float(queue.mean()) if queue.size else 0.0,
            "queue_max": float(queue.max()) if queue.size else 0.0,
        }
    for e in range(devices.n_edges):
        edges[f"edge-{e}"]["rsus"] = int(((devices.kind == 0) & (devices.edge == e)).sum())
        edges[f"edge-{e}"]["sensors"] = int(((devices.kind != 0) & (devices.edge == e)).sum())
    hazards = model.hazards.records
    link_ids = model.flows.network.link_ids  # records hold link indices; show external ids
    detected = [h for h in hazards if np.isfinite(h.detect_s)]
    length = model.flows.network.length_m
    watched_km = float(watched_length_m(model.zones, length).sum()) / 1000.0
    upstream = sum(h.upstream_vehicles for h in hazards)
    return {
        "latency": model.book.summary(),
        "edges": edges,
        "roadside": {
            "devices": len(devices.kind), **devices.counts(),
            "edge_nodes": devices.n_edges,
            "cbr_mean": float(cbr.mean()) if cbr.size else 0.0,
            "cbr_max": float(flows.cbr_max.max()) if cbr.size else 0.0,
            # road length (each direction counted) inside some sensor's zone
            "watched_km": watched_km,
            "watched_share": watched_km / (float(length.sum()) / 1000.0),
        },
        "resilience": resilience_summary(flows.faults, [k.key for k in MessageKind],
                                         [*model.edges, model.cloud], hazards),
        "hazards": {
            "count": len(hazards),
            "by_cause": {cause: sum(h.cause == cause for h in hazards)
                         for cause in sorted({h.cause for h in hazards})},
            "detected": len(detected),
            "detection_delay_mean_s": (float(np.mean([h.detect_s - h.start_s for h in detected]))
                                       if detected else None),
            "upstream_vehicles": upstream,
            "warned": sum(h.delivered for h in hazards),
            "warned_in_time": sum(h.in_time for h in hazards),
            "warned_in_time_share": (sum(h.in_time for h in hazards) / upstream
                                     if upstream else None),
            "broadcasts": sum(h.broadcasts for h in hazards),
            "by_hazard": [_hazard_record(h.__dict__, str(link_ids[h.link])) for h in hazards],
        },
    }


def _hazard_record(record: dict[str, Any], link: str) -> dict[str, Any]:
    """One ``hazards.by_hazard`` entry: external link id; edge node as ``edge-K`` or null."""
    edge = int(record.get("edge", -1))
    return {**record, "link": link, "edge": edge if edge >= 0 else None,
            "edge_node": edge_node_id(edge) or None}


def v2x_tables(model: V2XModel) -> dict[str, dict[str, NDArray[Any]]]:
    """latency.csv, latency_hist.csv, edges.csv, rsus.csv, devices.csv and warnings.csv."""
    rows = model.book.rows()
    latency = {name: np.array([r[name] for r in rows]) for name in
               ("kind", "hop", "count", "lost", "mean_s", "p50_s", "p95_s", "p99_s", "max_s",
                "deadline_s")} if rows else {}
    pools = [*model.edges, model.cloud]
    edge_rows: dict[str, list[Any]] = {"node": [], "t_start_s": [], "utilisation": [],
                                       "queue_mean": []}
    for pool in pools:
        util, queue = pool.utilisation(), pool.queue_length()
        edge_rows["node"] += [pool.name] * util.size
        edge_rows["t_start_s"] += pool.slot_start_s.tolist()
        edge_rows["utilisation"] += util.tolist()
        edge_rows["queue_mean"] += queue.tolist()
    devices, flows = model.devices, model.flows
    n_rsu = devices.n_rsu
    names = np.array([edge_node_id(e) for e in range(devices.n_edges)] + [""])
    rsus = {"rsu": np.arange(n_rsu), "x_m": devices.x_m[:n_rsu], "y_m": devices.y_m[:n_rsu],
            "edge": devices.edge[:n_rsu], "edge_node": names[devices.edge[:n_rsu]],
            "cbr_mean": flows.mean_cbr(),
            "cbr_max": flows.cbr_max, "bsm_received": flows.bsm_received,
            "sensors": np.bincount(devices.rsu[devices.sensors], minlength=n_rsu)}
    device_table = {"device": np.arange(len(devices.kind)),
                    "kind": np.array(DEVICE_NAMES)[devices.kind],
                    "x_m": devices.x_m, "y_m": devices.y_m, "rsu": devices.rsu,
                    "edge": devices.edge, "edge_node": names[devices.edge]}
    return {"latency": latency, "latency_hist": model.book.histogram_table(),
            "edges": {k: np.asarray(v) for k, v in edge_rows.items()},
            "rsus": rsus, "devices": device_table, "warnings": model.hazards.warnings_table()}
