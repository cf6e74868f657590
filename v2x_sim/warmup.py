"""Warm-up for every statistic: at ``simulation.warmup_s`` the accumulators start afresh.

A run starts with an empty network, so its first minutes are not the state a study
asks about. Trips are filtered by departure time (`v2x_sim.result`); the link and edge
series keep every time bin (their summaries use the bins from the warm-up on); every
other statistic accumulates during the run, so it is restarted at the warm-up
instant:

- latency (``latency`` in summary.json, latency.csv, latency_hist.csv): counts and
  histograms of every kind and hop, the edge and cloud queues' accumulators included.
  Messages on their way at that instant count as sent in the new period, so
  ``sent = delivered + lost + in_flight`` still holds;
- RSU channel load (``roadside.cbr_mean``, ``cbr_max``, rsus.csv) and BSMs received;
- rerouting: decisions, advice counts, vehicles advised and rerouted, flapping, and the
  belief's error and age samples.

Hazard records and incident clocks are per event and keep their own times.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from v2x_sim.control.loop import ControlLoop
from v2x_sim.v2x_model import V2XModel


def restart_at_warmup(env: simpy.Environment, warmup_s: float, v2x: V2XModel | None,
                      control: ControlLoop | None) -> None:
    """Schedule the restart of the statistics at ``warmup_s`` (nothing for 0).

    Scheduled when the world is built, so at the warm-up instant it runs before the
    periodic flows' window starting then (simpy serves equal times in scheduling order).
    """
    if warmup_s <= 0.0 or (v2x is None and control is None):
        return

    def restart() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(warmup_s)
        if v2x is not None:
            restart_v2x_statistics(v2x)
        if control is not None:
            control.restart_statistics()

    env.process(restart())


def restart_v2x_statistics(v2x: V2XModel) -> None:
    """Latency counts and histograms, queue accumulators and channel load start afresh."""
    pools = (*v2x.edges, v2x.cloud)
    book = v2x.book
    # settled so far: by the book directly, or by a queue kernel not yet merged into it
    kernel = sum((pool.counts for pool in pools), np.zeros_like(pools[0].counts))
    settled = book.delivered + book.lost + book.in_flight + kernel[:, 0] + kernel[:, 2]
    book.restart(on_the_way=np.maximum(book.sent - settled, 0))
    for pool in pools:
        pool.restart_statistics()
    v2x.flows.restart_statistics()
