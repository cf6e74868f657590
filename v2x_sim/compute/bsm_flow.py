"""The connected vehicles' BSMs, one flow window at a time, as one sorted batch per edge node.

Each window: place every BSM of the window on the coverage table and count the channel
load at each RSU (`comms.bsm_senders`, one compiled pass), draw every covered BSM's
PC5 fate from its cell and its RSU's load (`comms.pc5_fates`, one compiled pass), drop
what a silent RSU heard (fault windows), draw the edge's service times, and group the
delivered BSMs by edge node in arrival order over their RSU's backhaul
(`comms.bsm_batches`, one compiled pass). Counts and hop latencies go to the book; no
BSM is ever an object. The channel load of each RSU (the channel busy ratio, CBR) is
kept here: warnings, hazard reports and advice over PC5 see the load of the current
window.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim.comms.bsm_batches import to_edges
from v2x_sim.comms.bsm_senders import bsm_senders
from v2x_sim.comms.bsm_window import Placement, bsm_window
from v2x_sim.comms.channels import Pc5Channel
from v2x_sim.comms.messages import Hop, MessageKind
from v2x_sim.comms.pc5_fates import Pc5Cells
from v2x_sim.compute.faults import FaultPlan
from v2x_sim.compute.roadside import CELL_M, Coverage, Devices
from v2x_sim.compute.service import draw_service_s
from v2x_sim.compute.streams import StreamSet
from v2x_sim.metrics.histogram import N_BINS, bin_index
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.scenario.v2x_sections import PeriodicMessage, ServiceDistribution, ServiceParams

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class BsmFlow:
    """BSMs from the connected vehicles through PC5 and the backhaul to the edge queues.

    Args:
        length_m: every link's length.
        devices: the roadside devices (RSUs first) and their edge nodes.
        coverage: the coverage table (cells, nearest RSU, RSUs in range).
        pc5: the sidelink model.
        rsu_fibre_s: each RSU's backhaul delay to its edge node.
        spec: the ``messages.bsm`` section (enabled, rate).
        service: the edge's service time of a BSM.
        book: where counts and latencies go.
        rng: (the PC5 draws' generator, the edge service times' generator).
        deterministic: means-only mode.

    Attributes:
        cbr: each RSU's channel busy ratio in the current window.
        cbr_sum, cbr_max: its sum and maximum over the windows since the last restart.
        received: BSMs each RSU heard since the last restart.
    """

    def __init__(self, *, length_m: FloatArray, devices: Devices, coverage: Coverage,
                 pc5: Pc5Channel, rsu_fibre_s: FloatArray, spec: PeriodicMessage,
                 service: ServiceParams, book: LatencyBook,
                 rng: tuple[np.random.Generator, np.random.Generator],
                 deterministic: bool) -> None:
        self.length_m, self.devices, self.pc5 = length_m, devices, pc5
        self.rsu_fibre_s, self.spec, self.service, self.book = rsu_fibre_s, spec, service, book
        self.rng_pc5, self.rng_edge = rng
        self.deterministic = deterministic
        self.cells = Pc5Cells(pc5, coverage.distance_m)
        self._table = (CELL_M, coverage.first_cell, coverage.n_cells, coverage.nearest,
                       coverage.distance_m, coverage.heard_by)
        self._fibre_bin = bin_index(rsu_fibre_s)
        n_rsu = self.n_rsu = devices.n_rsu  # a count over every device: worked out once
        self.cbr = np.zeros(n_rsu)
        self.cbr_sum = np.zeros(n_rsu)
        self.cbr_max = np.zeros(n_rsu)
        self.received = np.zeros(n_rsu, np.int64)
        self._place = Placement(length_m, self._table, n_rsu, self.cells.ratio, pc5,
                                rsu_fibre_s, self._fibre_bin, devices.edge, devices.n_edges)
        # one compiled call per window (`comms.bsm_window`) unless a draw is Python's:
        # the means-only mode, or random service times (a fault window: per window)
        self._one_call = (not deterministic
                          and service.distribution == ServiceDistribution.DETERMINISTIC)

    def restart(self) -> None:
        """Count channel load and BSMs received afresh (the warm-up is over)."""
        self.cbr_sum[:] = 0.0
        self.cbr_max[:] = 0.0
        self.received[:] = 0

    def window(self, senders: tuple[IntArray, IntArray, FloatArray, FloatArray],
               start_s: float, end_s: float, faults: FaultPlan | None) -> StreamSet:
        """Every BSM sent in [start, end): one arrival-sorted stream per edge node (a set).

        Args:
            senders: the connected vehicles on links at the window's start: (trip ids,
                link, entered_s, ready_s).
            start_s: the window's start.
            end_s: its end.
            faults: the fault windows when one meets this window, else None.
        """
        ids, link, entered, ready = senders
        n_edges = self.devices.n_edges
        spec = self.spec
        if not spec.enabled or ids.size == 0:
            self.cbr[:] = 0.0
            return StreamSet.empty(n_edges)
        book = self.book
        if faults is None and self._one_call:
            return self._one_call_window(senders, start_s, end_s)
        # channel load at the window's start (transmitters within range of each RSU), and
        # every BSM of the window on its covering RSU: one compiled pass
        transmitters, sent, rsu, born, cell = bsm_senders(
            ids, link, entered, ready, (start_s, end_s, 1.0 / spec.rate_hz), self.length_m,
            self._table, self.n_rsu)
        self.cbr = self.pc5.channel_busy_ratio(transmitters, spec.rate_hz)
        self.cbr_sum += self.cbr
        np.maximum(self.cbr_max, self.cbr, out=self.cbr_max)
        book.count_sent(MessageKind.BSM, sent)
        book.count_lost(MessageKind.BSM, sent - rsu.size, "no_coverage")
        ok, air = self.cells.draw(cell, rsu, self.cbr, self.rng_pc5,
                                  deterministic=self.deterministic)
        heard = int(np.count_nonzero(ok))
        book.count_lost(MessageKind.BSM, ok.size - heard, "radio")
        if faults is not None:  # heard by a silent RSU: lost
            ok &= faults.drop(book, int(MessageKind.BSM), np.where(
                ok, faults.rsu_down(rsu, born + air, self.devices.edge), -1))
            heard = int(np.count_nonzero(ok))
        service = draw_service_s(self.service, heard, self.rng_edge,
                                 deterministic=self.deterministic)
        # the heard ones over their RSU's backhaul, sorted by (edge node, arrival): each
        # edge node's messages are a slice (one compiled call)
        arrival, service, born, bounds, air, per_rsu = to_edges(
            ok, rsu, born, air, service, self.rsu_fibre_s, self.devices.edge, n_edges, start_s)
        book.add_hop(MessageKind.BSM, Hop.AIR, air)
        self.received += per_rsu
        if arrival.size:  # backhaul is a constant per RSU: bin the RSUs, not the messages
            book.hist[MessageKind.BSM][Hop.BACKHAUL].add_binned(
                np.bincount(self._fibre_bin, weights=per_rsu, minlength=N_BINS).astype(
                    np.int64), float(per_rsu @ self.rsu_fibre_s),
                float(self.rsu_fibre_s[per_rsu > 0].max()))
        kind = np.full(born.size, int(MessageKind.BSM))
        return StreamSet(arrival, service, kind, born, np.asarray(bounds, np.int64))

    def _one_call_window(self, senders: tuple[IntArray, IntArray, FloatArray, FloatArray],
                         start_s: float, end_s: float) -> StreamSet:
        """`window`'s steps in one compiled call (`comms.bsm_window`): the same results."""
        book, kind = self.book, int(MessageKind.BSM)
        out = bsm_window(senders, (start_s, end_s, 1.0 / self.spec.rate_hz), self._place,
                         self.spec.rate_hz, self.service.mean_s, kind, self.rng_pc5,
                         (self.cbr_sum, self.cbr_max, self.received))
        self.cbr = out.cbr
        book.count_sent(kind, out.sent)
        book.count_lost(kind, out.sent - out.covered, "no_coverage")
        book.count_lost(kind, out.covered - out.heard, "radio")
        if out.heard:
            hops = book.hist[kind]
            hops[Hop.AIR].add_binned(out.air_counts, out.air_total_s, out.air_max_s)
            hops[Hop.BACKHAUL].add_binned(out.fibre_counts,
                                          float(out.per_rsu @ self.rsu_fibre_s),
                                          out.fibre_max_s)
        return StreamSet(out.arrival_s, out.service_s, out.kind, out.born_s, out.bounds)
