"""The PC5 fate of a window's BSMs from their coverage cells, in one compiled loop.

`Pc5Channel.draw` takes one distance and one channel load per message and evaluates
``r(d) (1 - c cbr)`` and ``airtime + access / (1 - cbr) x Exp(1)`` as some ten numpy
passes, the logistic ``exp`` for every message among them. A window's BSMs come from
a few thousand coverage cells and a few hundred RSUs, though: ``r(d)`` depends on the
cell alone (its distance to its nearest RSU is fixed), and the two load terms on the
RSU alone. So ``r`` is evaluated once per cell when the flows are built (numpy's
``exp``, the same function `Pc5Channel.distance_delivery_ratio` uses, whose result for a
value does not depend on where in an array it sits), the load terms once per RSU and
window, and one loop combines them with the window's uniforms and standard
exponentials, drawn from the caller's generator exactly as `Pc5Channel.draw` draws them
(all uniforms, then all exponentials): the same numbers from the same stream, the same
floating-point operations on the same values, so the same fates bit for bit (a test
compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.comms.channels import Draw, Pc5Channel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Pc5Cells:
    """The PC5 channel as seen from the cells of a coverage table.

    Attributes:
        channel: the channel model.
        distance_m: each cell's distance to its nearest RSU (inf where none).
        ratio: each cell's idle-channel delivery ratio ``channel.distance_delivery_ratio``
            (worked out once).
    """

    channel: Pc5Channel
    distance_m: FloatArray
    ratio: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratio", self.channel.distance_delivery_ratio(self.distance_m))

    def draw(self, cell: IntArray, rsu: IntArray, cbr: FloatArray, rng: np.random.Generator,
             *, deterministic: bool = False) -> Draw:
        """``channel.draw(distance_m[cell], cbr[rsu], rng)``, bit for bit, in one loop.

        Args:
            cell: the cell each message is sent from.
            rsu: the RSU it is sent to (the cell's nearest, so ``distance_m[cell]`` away).
            cbr: channel busy ratio of every RSU.
            rng: the caller's generator: ``cell.size`` uniforms, then as many standard
                exponentials (as `Pc5Channel.draw` takes them).
            deterministic: means only (`Pc5Channel.draw`'s own path).
        """
        pc5 = self.channel
        if deterministic:
            return pc5.draw(self.distance_m[cell], cbr[rsu], rng, deterministic=True)
        uniform = rng.random(cell.shape)
        exponential = rng.standard_exponential(cell.shape)
        keep = 1.0 - pc5.collision_loss_at_full_load * cbr
        access_mean_s = pc5.access_delay_s / (1.0 - cbr)
        return pc5_fates(uniform, exponential, cell, rsu, self.ratio, keep, access_mean_s,
                         pc5.airtime_s)


def pc5_fates(uniform: FloatArray, exponential: FloatArray, cell: IntArray, rsu: IntArray,
              cell_ratio: FloatArray, keep: FloatArray, access_mean_s: FloatArray,
              airtime_s: float) -> tuple[BoolArray, FloatArray]:
    """Delivered or not, and the air delay, of each message.

    ``delivered = uniform < cell_ratio[cell] * keep[rsu]`` and ``delay = airtime_s +
    access_mean_s[rsu] * exponential`` (`Pc5Channel.draw`'s formulas, factored by cell
    and by RSU).

    Args:
        uniform: one U(0, 1) draw per message.
        exponential: one standard exponential draw per message.
        cell: the coverage cell each message is sent from.
        rsu: the RSU it is sent to (the cell's nearest).
        cell_ratio: idle-channel delivery ratio ``r(d)`` of every cell.
        keep: per RSU, ``1 - collision_loss_at_full_load x cbr`` (the share not lost to
            collisions).
        access_mean_s: per RSU, the mean access delay ``access_delay_s / (1 - cbr)``.
        airtime_s: the time one message occupies the channel.

    Returns:
        (delivered, delay_s), one per message.
    """
    return _pc5_fates(uniform, exponential, cell, rsu, cell_ratio, keep, access_mean_s,
                      float(airtime_s))


@njit(cache=True, nogil=True)
def _pc5_fates(uniform, exponential, cell, rsu, cell_ratio, keep, access_mean_s, airtime_s):  # type: ignore[no-untyped-def]  # pragma: no cover
    n = cell.shape[0]
    delivered = np.empty(n, np.bool_)
    delay = np.empty(n)
    for i in range(n):
        r = rsu[i]
        delivered[i] = uniform[i] < cell_ratio[cell[i]] * keep[r]
        delay[i] = airtime_s + access_mean_s[r] * exponential[i]
    return delivered, delay
