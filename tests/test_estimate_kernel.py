"""The compiled estimate (`estimate_grouped`) against the estimator's formulas, cell by cell.

The kernel replaced numpy passes whose results the identity pin fixes to the last bit,
so the reference here applies the module's formulas in plain Python, summing each
cell's zones in zone order as those passes did, and the two must agree exactly.
"""

from __future__ import annotations

import math

import numpy as np

from v2x_sim.compute.estimator import RoadFacts, estimate_grouped
from v2x_sim.compute.sensors import SensorZones, ZoneReadings


def _zones(rng: np.random.Generator, n_zones: int, n_links: int) -> SensorZones:
    link = np.sort(rng.integers(0, n_links, n_zones))
    lo = rng.uniform(0.0, 300.0, n_zones)
    hi = lo + rng.uniform(10.0, 300.0, n_zones)
    f = np.zeros(n_zones)
    first = np.concatenate(([0], np.cumsum(np.bincount(link, minlength=n_links))))
    none = np.zeros(0, np.int64)
    return SensorZones(
        sensor=np.arange(n_zones), link=link, lo_m=lo, hi_m=hi, edge=np.zeros(n_zones, np.int64),
        speed_sigma_mps=f, miss_probability=rng.uniform(0.0, 0.2, n_zones),
        false_per_hour=rng.uniform(0.0, 30.0, n_zones), free_speed_mps=f + 15.0,
        lanes=f + 2.0, vehicle_length_m=f + 7.0, at_end=rng.random(n_zones) < 0.3,
        first=first, cell_first=none, cell_ptr=none, cell_zone=none)


def _road(rng: np.random.Generator, n: int) -> RoadFacts:
    cycle = np.where(rng.random(n) < 0.5, 90.0, 0.0)
    green = np.where(cycle > 0, rng.uniform(0.0, 60.0, n), 0.0)
    green[:2] = np.where(cycle[:2] > 0, 0.0, green[:2])  # no green at all: nominal drain 0
    return RoadFacts(length_m=rng.uniform(300.0, 900.0, n),
                     lanes=rng.integers(1, 4, n).astype(np.float64),
                     free_speed_mps=rng.uniform(8.0, 30.0, n),
                     saturation_vps=rng.uniform(0.3, 1.5, n),
                     jam_density_vpm_per_lane=np.full(n, 0.14), cycle_s=cycle, green_s=green,
                     onward_vps=np.where(rng.random(n) < 0.2, np.inf, rng.uniform(0.2, 3.0, n)))


def _readings(rng: np.random.Generator, n: int) -> ZoneReadings:
    count = rng.integers(0, 8, n).astype(np.float64)
    moving = np.minimum(count, rng.integers(0, 8, n))
    stopped = count - moving
    tail = np.where(stopped > 0, rng.uniform(0.0, 600.0, n), np.nan)
    return ZoneReadings(count=count, moving=moving,
                        speed_sum_mps=moving * rng.uniform(0.5, 25.0, n), stopped=stopped,
                        tail_m=tail, occupancy=np.zeros(n), exits=np.zeros(n))


def _reference(zones: SensorZones, r: ZoneReadings, road: RoadFacts, group: np.ndarray,
               n_groups: int, drain_vps: np.ndarray | None):  # type: ignore[no-untyped-def]
    """Density and travel time per (subset, link) from the module doc, one cell at a time."""
    n = road.length_m.size
    travel = np.full((n_groups, n), np.nan)
    density = np.full((n_groups, n), np.nan)
    corrected = (r.count - zones.ghost_mean) / (1.0 - zones.miss_probability)
    for g in range(n_groups):
        for lk in range(n):
            mine = [z for z in range(len(zones)) if group[z] == g and zones.link[z] == lk]
            watched = count = moving = speed = 0.0
            tail = seen = math.inf
            for z in mine:  # in zone order, as np.bincount adds
                watched += float(zones.length_m[z])
                count += float(corrected[z])
                moving += float(r.moving[z])
                speed += float(r.speed_sum_mps[z])
                if not math.isnan(r.tail_m[z]):
                    tail = min(tail, float(r.tail_m[z]))
                if drain_vps is not None and not math.isnan(drain_vps[z]):
                    seen = min(seen, float(drain_vps[z]))
            if watched <= 0:
                continue
            density[g, lk] = max(count, 0.0) / watched
            v = speed / moving if moving > 0 else float(road.free_speed_mps[lk])
            cycle, green = float(road.cycle_s[lk]), float(road.green_s[lk])
            share = green / cycle if cycle > 0 else 1.0
            drain = min(float(road.saturation_vps[lk]) * share, float(road.onward_vps[lk]))
            if math.isfinite(seen):
                drain = min(seen, float(road.saturation_vps[lk]))
            queue = ((float(road.length_m[lk]) - tail) * float(road.lanes[lk])
                     * float(road.jam_density_vpm_per_lane[lk]) if math.isfinite(tail) else 0.0)
            red_wait = (cycle - green) ** 2 / (2.0 * cycle) if cycle > 0 else 0.0
            with np.errstate(divide="ignore"):
                wait = float(np.float64(queue) / drain) if queue > 0 else red_wait
            travel[g, lk] = float(road.length_m[lk]) / v + wait
    return travel, density


def test_compiled_estimates_equal_the_formulas_cell_by_cell() -> None:
    """Rule: every (subset, link) cell's density and travel time is the module doc's
    formula on its zones' sums, to the last bit; zones in no subset (-1) count nowhere;
    a measured drain replaces the nominal one; unwatched cells are NaN and unmeasured."""
    rng = np.random.default_rng(7)
    n_zones, n_links, n_groups = 400, 30, 3
    for trial in range(4):
        zones, road, r = _zones(rng, n_zones, n_links), _road(rng, n_links), _readings(
            rng, n_zones)
        group = np.where(rng.random(n_zones) < 0.8, rng.integers(0, n_groups, n_zones), -1)
        drain = (None if trial % 2 else
                 np.where(rng.random(n_zones) < 0.3, rng.uniform(0.0, 2.0, n_zones), np.nan))
        travel, density, measured = estimate_grouped(zones, r, road, group, n_groups,
                                                     drain_vps=drain)
        want_travel, want_density = _reference(zones, r, road, group, n_groups, drain)
        np.testing.assert_array_equal(travel, want_travel)
        np.testing.assert_array_equal(density, want_density)
        assert measured.tolist() == (~np.isnan(want_density)).tolist()
        assert measured.sum() > 0  # both kinds of cell occur
        assert (~measured).sum() > 0
