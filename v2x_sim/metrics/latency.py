"""Latency book-keeping per message kind and hop: counts that must add up, histograms.

Kinds and hops are plain names here (the metrics layer knows no domain types); callers
index them by position. For every kind: ``sent = delivered + lost + in_flight``, and
``late`` counts delivered messages whose total latency exceeded the kind's deadline.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from v2x_sim.metrics.histogram import LogHistogram, bin_edges

QUANTILES = {"p50_s": 0.50, "p95_s": 0.95, "p99_s": 0.99}


class LatencyBook:
    """Counters and per-hop histograms for a fixed list of kinds and hops.

    Args:
        kinds: message kind names, indexed by position.
        hops: hop names, indexed by position.
        deadline_s: deadline per kind.
    """

    def __init__(self, kinds: list[str], hops: list[str], deadline_s: list[float]) -> None:
        self.kinds, self.hops = kinds, hops
        self.deadline_s = np.asarray(deadline_s, dtype=np.float64)
        n = len(kinds)
        self.sent = np.zeros(n, np.int64)
        self.lost = np.zeros(n, np.int64)
        self.delivered = np.zeros(n, np.int64)
        self.in_flight = np.zeros(n, np.int64)
        self.late = np.zeros(n, np.int64)
        self.lost_reasons: list[dict[str, int]] = [{} for _ in kinds]
        self.hist = [[LogHistogram() for _ in hops] for _ in kinds]

    def restart(self, on_the_way: NDArray[np.int64]) -> None:
        """Count afresh from now (the end of the warm-up).

        ``on_the_way`` (per kind) are the messages sent before and not yet settled:
        they count as sent in the new period, so ``sent = delivered + lost + in_flight``
        keeps holding at the end.
        """
        n = len(self.kinds)
        self.sent = np.asarray(on_the_way, dtype=np.int64).copy()
        self.lost = np.zeros(n, np.int64)
        self.delivered = np.zeros(n, np.int64)
        self.in_flight = np.zeros(n, np.int64)
        self.late = np.zeros(n, np.int64)
        self.lost_reasons = [{} for _ in self.kinds]
        self.hist = [[LogHistogram() for _ in self.hops] for _ in self.kinds]

    def count_sent(self, kind: int, n: int) -> None:
        """``n`` messages of ``kind`` were generated."""
        self.sent[kind] += n

    def count_lost(self, kind: int, n: int, reason: str) -> None:
        """``n`` messages of ``kind`` were lost, for ``reason`` (e.g. ``radio``)."""
        if n:
            self.lost[kind] += n
            reasons = self.lost_reasons[kind]
            reasons[reason] = reasons.get(reason, 0) + n

    def add_hop(self, kind: int, hop: int, values_s: ArrayLike) -> None:
        """Record the time ``values_s`` spent on one hop."""
        self.hist[kind][hop].add(values_s)

    def add_hop_constant(self, kind: int, hop: int, value_s: float, n: int) -> None:
        """Record ``n`` messages that each spent ``value_s`` on one hop (as `add_hop`)."""
        self.hist[kind][hop].add_repeated(float(value_s), int(n))

    def add_delivered(self, kind: int, total_s: ArrayLike) -> None:
        """Record end-to-end latencies of delivered messages (also counts late ones)."""
        values = np.asarray(total_s, dtype=np.float64)
        self.delivered[kind] += values.size
        self.late[kind] += int(np.count_nonzero(values > self.deadline_s[kind]))
        self.hist[kind][self.hops.index("total")].add(values)

    def add_kernel(self, counts: NDArray[np.int64], stats: NDArray[np.float64],
                   hist: NDArray[np.int64], hop_index: list[int]) -> None:
        """Merge accumulators of a compiled queue kernel.

        Args:
            counts: (kinds, 3): delivered, late, in flight.
            stats: (kinds, len(hop_index), 2): sum and max per hop.
            hist: (kinds, len(hop_index), N_BINS) binned counts.
            hop_index: position in ``hops`` of each kernel hop column.
        """
        self.delivered += counts[:, 0]
        self.late += counts[:, 1]
        self.in_flight += counts[:, 2]
        for kind in range(len(self.kinds)):
            for column, hop in enumerate(hop_index):
                if hist[kind, column].any():
                    self.hist[kind][hop].add_binned(hist[kind, column], stats[kind, column, 0],
                                                    stats[kind, column, 1])

    def count_in_flight(self, kind: int, n: int) -> None:
        """``n`` messages of ``kind`` were still on their way at the horizon."""
        self.in_flight[kind] += n

    def _hop_summary(self, histogram: LogHistogram) -> dict[str, Any]:
        out: dict[str, Any] = {"count": histogram.count, "mean_s": histogram.mean_s}
        out.update({name: histogram.quantile(q) for name, q in QUANTILES.items()})
        out["max_s"] = histogram.max_s
        return out

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per kind: counts, latency percentiles, deadline, miss ratio, hop breakdown.

        ``deadline_miss_ratio = (late + lost) / (delivered + lost)``: the share of
        messages that did not arrive within their deadline, in-flight ones left out.
        """
        total = self.hops.index("total")
        out: dict[str, dict[str, Any]] = {}
        for k, kind in enumerate(self.kinds):
            if self.sent[k] == 0:
                continue
            hist = self.hist[k][total]
            settled = int(self.delivered[k] + self.lost[k])
            entry: dict[str, Any] = {
                "sent": int(self.sent[k]), "delivered": int(self.delivered[k]),
                "lost": int(self.lost[k]), "in_flight": int(self.in_flight[k]),
                "lost_by_reason": dict(self.lost_reasons[k]),
            }
            entry.update({name: hist.quantile(q) for name, q in QUANTILES.items()})
            entry["max_s"] = hist.max_s
            entry["mean_s"] = hist.mean_s
            entry["deadline_s"] = float(self.deadline_s[k])
            entry["deadline_miss_ratio"] = ((int(self.late[k]) + int(self.lost[k])) / settled
                                            if settled else math.nan)
            entry["hops"] = {hop: self._hop_summary(self.hist[k][h])
                             for h, hop in enumerate(self.hops)
                             if hop != "total" and self.hist[k][h].count}
            out[kind] = entry
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per kind and hop (for latency.csv)."""
        rows = []
        for k, kind in enumerate(self.kinds):
            for h, hop in enumerate(self.hops):
                hist = self.hist[k][h]
                if not hist.count:
                    continue
                lost = 0
                if hop == "total":
                    lost = int(self.lost[k])
                elif hop == "air":  # losses on the radio leg, coverage gaps included
                    lost = sum(n for reason, n in self.lost_reasons[k].items()
                               if reason in ("radio", "no_coverage"))
                row: dict[str, Any] = {"kind": kind, "hop": hop, "count": hist.count,
                                       "lost": lost, "mean_s": hist.mean_s}
                row.update({name: hist.quantile(q) for name, q in QUANTILES.items()})
                row["max_s"] = hist.max_s
                row["deadline_s"] = float(self.deadline_s[k]) if hop == "total" else math.nan
                rows.append(row)
        return rows

    def histogram_table(self) -> dict[str, NDArray[Any]]:
        """Every histogram's non-empty bins (for latency_hist.csv).

        Columns ``kind, hop, bin, low_s, high_s, count``: the bin's index and edges
        (``high_s`` is inf for the overflow bin, whose values lie up to the row's
        ``max_s`` in latency.csv), one row per non-empty bin, kinds and hops in order.
        The distribution of any kind and hop can be drawn or merged from it.
        """
        edges = bin_edges()
        columns: dict[str, list[Any]] = {"kind": [], "hop": [], "bin": [], "low_s": [],
                                         "high_s": [], "count": []}
        for k, kind in enumerate(self.kinds):
            for h, hop in enumerate(self.hops):
                counts = self.hist[k][h].counts
                bins = np.flatnonzero(counts)
                columns["kind"] += [kind] * bins.size
                columns["hop"] += [hop] * bins.size
                columns["bin"] += bins.tolist()
                columns["low_s"] += edges[bins].tolist()
                columns["high_s"] += edges[bins + 1].tolist()
                columns["count"] += counts[bins].tolist()
        return {"kind": np.array(columns["kind"], dtype=str),
                "hop": np.array(columns["hop"], dtype=str),
                "bin": np.array(columns["bin"], dtype=np.int64),
                "low_s": np.array(columns["low_s"], dtype=np.float64),
                "high_s": np.array(columns["high_s"], dtype=np.float64),
                "count": np.array(columns["count"], dtype=np.int64)}
