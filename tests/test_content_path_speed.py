"""The faster content paths give exactly what the plain ones give.

`v2x.background: off` keeps every content-carrying message, so its cost is the content
path: the status store, the vehicle registry, idle edge queues and the decision's
screen of vehicles. Each shortcut here is checked against the plain rule it replaces,
written out in the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.compute.cloud import VehicleRegistry
from v2x_sim.compute.content import ContentStore
from v2x_sim.compute.pool_group import PoolGroup
from v2x_sim.compute.servers import ServerPool, Stream, _run_kernel
from v2x_sim.compute.streams import StreamSet
from v2x_sim.control.policies.dynamic_shortest import DynamicShortest, _worth_a_look
from v2x_sim.control.policy import PolicyView, VehiclesView
from v2x_sim.road.generators import grid
from v2x_sim.road.routing import RouteTables
from v2x_sim.road.state import LinkState
from v2x_sim.scenario.sections import GridParams


def test_content_store_takes_rows_from_one_chunk_and_across_chunks() -> None:
    """Rule: a take returns each id's row, in the order of the ids asked for; a chunk is
    dropped once all its rows are taken."""
    store = ContentStore()
    a = store.add(x=np.array([10, 11, 12]), y=np.array([0.5, 1.5, 2.5]))  # ids 0-2
    b = store.add(x=np.array([20, 21]), y=np.array([3.5, 4.5]))  # ids 3-4
    assert a.tolist() == [0, 1, 2]
    assert b.tolist() == [3, 4]
    one = store.take(np.array([2, 0]))  # inside the first chunk, reversed
    assert one["x"].tolist() == [12, 10]
    assert one["y"].tolist() == [2.5, 0.5]
    assert len(store) == 3
    both = store.take(np.array([4, 1]))  # one row of each chunk
    assert both["x"].tolist() == [21, 11]
    assert both["y"].tolist() == [4.5, 1.5]
    assert len(store) == 1  # the first chunk is gone, id 3 is left
    last = store.take(np.array([3]))
    assert last["x"].tolist() == [20]
    assert len(store) == 0
    assert store.take(np.zeros(0, np.int64)) == {}


def test_content_store_memory_follows_the_rows_still_waiting() -> None:
    """Rule: rows before the oldest chunk still waiting are dropped when room is needed,
    so a long run holds about what is on its way (here half a window's reports wait a
    window, taken together with the next window's, out of order across the two chunks)."""
    store = ContentStore()
    previous = store.add(v=np.arange(500, dtype=np.float64))
    store.take(previous[:250])
    for k in range(1, 200):
        ids = store.add(v=np.arange(500, dtype=np.float64) + 1000 * k)
        got = store.take(np.concatenate([previous[250:], ids[:250]])[::-1])["v"]
        # reversed: chunk k's row 249 first, chunk k-1's row 250 last
        assert got[0] == 1000 * k + 249
        assert got[-1] == 1000 * (k - 1) + 250
        assert len(store) == 250
        previous = ids
    assert len(store._columns["v"]) <= 4096  # not the 100,000 rows ever added
    assert store.take(previous[250:])["v"][0] == 1000 * 199 + 250
    assert len(store) == 0
    with pytest.raises(ValueError, match="content columns"):
        store.add(w=np.array([1.0]))


def test_registry_ties_go_to_the_later_report_and_equal_age_does_not_replace() -> None:
    """Rule: among reports of one vehicle sent at the same instant the later processed
    wins; a report sent no later than the one held does not replace it."""
    registry = VehicleRegistry(forget_after_s=100.0)
    # vehicle 1: two reports sent at 2 s (links 7 then 8, both processed by 3 s);
    # vehicle 3: sent at 1 s on link 5
    registry.ingest(np.array([2.5, 2.6, 2.7]), np.array([1, 3, 1]), np.array([7, 5, 8]),
                    np.array([2.0, 1.0, 2.0]))
    ids, link, at = registry.known(3.0)
    assert ids.tolist() == [1, 3]
    assert link.tolist() == [8, 5]
    assert at.tolist() == [2.0, 1.0]
    # a later batch: vehicle 1 again sent at 2 s (link 9: not newer), vehicle 3 at 4 s
    registry.ingest(np.array([5.0, 5.0]), np.array([1, 3]), np.array([9, 6]),
                    np.array([2.0, 4.0]))
    ids, link, _ = registry.known(5.0)
    assert link.tolist() == [8, 6]
    assert registry.reports == 5


def _pools() -> list[ServerPool]:
    return [ServerPool(f"edge-{e}", 2, np.array([0.01, 0.02]), 10.0) for e in range(3)]


def test_idle_pools_in_a_group_end_as_serving_each_would_leave_them() -> None:
    """Rule: a pool with no carry and no arrivals in a group's window (most edge nodes
    with `v2x.background: off`) ends in the state serving it alone would leave, and a
    foreground message waits the same."""
    skipping, serving = _pools(), _pools()
    group = PoolGroup(skipping)
    rng = np.random.default_rng(3)
    for window in range(6):
        fixed, batch = [], []
        for e in range(3):
            busy = (window + e) % 3 == 0  # each pool idle in two windows of three
            n = 40 if busy else 0
            arrival = np.sort(window + rng.random(n))
            fixed.append(Stream())
            batch.append(Stream(arrival, np.full(n, 0.03), np.ones(n, np.int64), arrival,
                                np.arange(n, dtype=np.int64)))
        together = group.serve(StreamSet.of(fixed), StreamSet.of(batch), StreamSet.empty(3),
                               window + 1.0)
        handed = [together.node(e) for e in range(3)]
        for e, pool in enumerate(serving):  # the plain path: every kernel runs
            job = pool._prepare(fixed[e], batch[e], window + 1.0)
            plain = pool._finish(job, _run_kernel(job))
            assert np.array_equal(plain.done_s, handed[e].done_s)
            assert np.array_equal(plain.payload, handed[e].payload)
            asked = window + 0.5
            assert skipping[e].start_time(asked) == pool.start_time(asked)
    for a, b in zip(skipping, serving, strict=True):
        for name in ("free_s", "counts", "stats", "hist", "busy_slots", "wait_slots"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert sum(int(p.counts.sum()) for p in serving) > 0


def _one_by_one(view: PolicyView, threshold: float) -> tuple[list[int], list[float]]:
    """The plain rule: price every vehicle's remaining route against the shortest path."""
    cost = view.belief.travel_time_s
    tables = RouteTables(view.network, np.maximum(cost, 1e-6))
    chosen, savings = [], []
    for i in range(len(view.vehicles)):
        start, goal = int(view.vehicles.next_node[i]), int(view.vehicles.destination[i])
        if start == goal:
            continue
        best = tables.distances_to(goal)[start]
        route = view.vehicles.remaining[i]
        current = float(cost[route].sum()) if route else 0.0
        if not np.isfinite(best) or current <= 0:
            continue
        if (current - best) / current > threshold:
            chosen.append(i)
            savings.append((current - best) / current)
    return chosen, savings


def test_the_screen_keeps_every_vehicle_the_exact_pricing_chooses() -> None:
    """Rule: dynamic_shortest's array screen drops only vehicles that cannot gain more
    than the threshold: its choices equal pricing every vehicle one by one, and the
    screen leaves most vehicles out (a belief that favours nobody's current route)."""
    network = grid(GridParams(rows=6, cols=6, spacing_m=400.0))
    rng = np.random.default_rng(11)
    free = network.free_flow_time_s
    for trial in range(5):
        travel = free * rng.uniform(0.8, 2.5, free.size)
        n = 300
        destination = rng.integers(0, network.n_nodes, n)
        link = rng.integers(0, network.n_links, n)
        next_node = network.to_node[link]
        # planned routes: shortest under free flow, so the belief makes some worse
        plan = RouteTables(network, free)
        remaining = [plan.path(int(s), int(d)) for s, d in zip(next_node, destination,
                                                                strict=True)]
        if trial == 0:  # a vehicle with no route left is never priced
            remaining[0] = []
        vehicles = VehiclesView(ids=np.arange(n), link=link, next_node=next_node,
                                destination=destination, remaining=remaining)
        state = LinkState(travel, np.zeros(free.size), free)
        view = PolicyView(now_s=0.0, network=network, belief=state, history=[],
                          vehicles=vehicles, rng=np.random.default_rng(0))
        threshold = 0.15
        chosen, _, savings = DynamicShortest(threshold=threshold).candidates(view)
        expected, expected_savings = _one_by_one(view, threshold)
        assert chosen == expected
        assert savings == expected_savings
        tables = RouteTables(network, np.maximum(travel, 1e-6))
        tables.prepare(np.unique(destination))
        looked = _worth_a_look(vehicles, tables, np.maximum(travel, 1e-6), threshold)
        assert set(expected) <= set(looked.tolist())
        assert looked.size < 0.8 * n  # it does screen


def test_registry_matches_the_plain_rule_over_many_batches() -> None:
    """Rule: at any instant each vehicle's entry is its newest-sent report among those
    processed by then (a plain scan of every report here), however the reports were
    batched and however many wait (the pending buffer grows past its first size)."""
    rng = np.random.default_rng(2)
    registry = VehicleRegistry(forget_after_s=1e9)
    n_vehicles, batches, per_batch = 40, 60, 100
    born = np.sort(rng.uniform(0.0, 600.0, batches * per_batch))
    receive = born + rng.exponential(20.0, born.size)  # a slow cloud: reports overtake
    vehicle = rng.integers(0, n_vehicles, born.size)
    link = rng.integers(0, 500, born.size)
    for b in range(batches):
        part = slice(b * per_batch, (b + 1) * per_batch)
        registry.ingest(receive[part], vehicle[part], link[part], born[part])
        if b % 7 == 6:  # a decision now and then
            now = born[part][-1]
            ids, got_link, got_at = registry.known(now)
            seen = slice(0, (b + 1) * per_batch)
            for v, lk, at in zip(ids.tolist(), got_link.tolist(), got_at.tolist(),
                                 strict=True):
                mine = (vehicle[seen] == v) & (receive[seen] <= now)
                newest = int(np.argmax(np.where(mine, born[seen], -np.inf)))
                assert (lk, at) == (int(link[newest]), float(born[newest]))
            heard = {int(v) for v in vehicle[seen][receive[seen] <= now]}
            assert set(ids.tolist()) == heard
    registry.known(np.inf)
    assert registry.reports == born.size


def test_registry_applies_what_is_due_when_full_and_reads_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule: told the current time, a registry whose pending buffer fills applies the
    reports processed by then; since it is read only at or after that time, every read
    equals that of a registry that kept them all pending (and its buffer holds the
    backlog, not the reports since the last read). First buffer 256 rows; 6,000 reports,
    100 every 10 s, each processed ~20 s after it was sent (so ~200 wait at any time);
    read every 2,000 reports: the plain buffer grows to hold 2,000; the other holds the
    ~300 waiting when it fills, with room for as many again (doubling: at most 1,024)."""
    import v2x_sim.compute.cloud as cloud

    monkeypatch.setattr(cloud, "_FIRST_PENDING", 256)
    rng = np.random.default_rng(3)
    told, plain = VehicleRegistry(forget_after_s=30.0), VehicleRegistry(forget_after_s=30.0)
    batches, per_batch = 60, 100
    born = np.sort(rng.uniform(0.0, 600.0, batches * per_batch))
    receive = born + rng.exponential(20.0, born.size)
    vehicle = rng.integers(0, 50, born.size)
    link = rng.integers(0, 500, born.size)
    reads = 0
    for b in range(batches):
        part = slice(b * per_batch, (b + 1) * per_batch)
        now = float(born[part][0])  # the batch is handed over at its first send
        told.ingest(receive[part], vehicle[part], link[part], born[part], now_s=now)
        plain.ingest(receive[part], vehicle[part], link[part], born[part])
        if b % 20 == 19:
            at = float(born[part][-1])
            for mine, theirs in zip(told.known(at), plain.known(at), strict=True):
                np.testing.assert_array_equal(mine, theirs)
            reads += 1
    assert reads == 3
    assert told._receive.size <= 1024
    assert plain._receive.size >= 2000
    told.known(np.inf)
    plain.known(np.inf)
    assert told.reports == plain.reports == born.size


def test_senders_list_the_connected_vehicles_on_links_as_a_full_scan_does() -> None:
    """Rule: the flows' view of the traffic (connected trips on a link now) equals a scan
    of every row, in ascending order, as trips are added (the table grows) and move."""
    from v2x_sim.traffic.fleet import VehicleTable
    from v2x_sim.world import _connected_on_links

    rng = np.random.default_rng(4)
    fleet = VehicleTable(capacity=8)
    senders = _connected_on_links(fleet)
    for step in range(30):
        n = int(rng.integers(0, 40))
        fleet.add_many(kind=np.zeros(n, np.int8), connected=rng.random(n) < 0.3,
                       origin=np.zeros(n, np.int64), destination=np.ones(n, np.int64),
                       depart_s=np.full(n, float(step)), pce=np.ones(n))
        size = len(fleet)
        fleet.link[:size] = np.where(rng.random(size) < 0.5, rng.integers(0, 9, size), -1)
        fleet.entered_s[:size] = rng.random(size)
        ids, link, entered, _ = senders()
        expected = np.flatnonzero(fleet.connected[:size] & (fleet.link[:size] >= 0))
        assert ids.tolist() == expected.tolist()
        assert link.tolist() == fleet.link[expected].tolist()
        assert entered.tolist() == fleet.entered_s[expected].tolist()
    assert len(fleet) > 8  # the table grew (its arrays were replaced) meanwhile
