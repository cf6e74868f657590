"""The movements a network allows at its nodes, as read from a connections file.

A movement is a pair (approach link, outgoing link) at the node where the approach
ends. A network without a turn table allows every movement (U-turns aside, see
`movements`); with one, a movement it does not list is a turn restriction: routes never
use it and advice that would is not followed. Each movement may also name the lanes of
the approach it uses (a bit mask, bit 0 the rightmost lane; 0 when the file does not
say), which the link model turns into lane groups (`lane_layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class TurnTable:
    """Allowed movements as parallel arrays.

    Attributes:
        from_link: approach link index of each movement.
        to_link: outgoing link index (it starts where ``from_link`` ends).
        lanes_mask: the approach lanes the movement uses, bit 0 the rightmost; 0 when
            unknown (the lanes are then derived from geometry).
    """

    from_link: IntArray
    to_link: IntArray
    lanes_mask: IntArray
    _pairs: frozenset[tuple[int, int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pairs = frozenset(zip(self.from_link.tolist(), self.to_link.tolist(), strict=True))
        object.__setattr__(self, "_pairs", pairs)

    @property
    def n_movements(self) -> int:
        """Number of allowed movements."""
        return len(self.from_link)

    def allows(self, from_link: int, to_link: int) -> bool:
        """Whether a vehicle on ``from_link`` may go on to ``to_link``."""
        return (from_link, to_link) in self._pairs

    def route_allowed(self, links: Sequence[int]) -> bool:
        """Whether every movement between consecutive links of ``links`` is allowed."""
        pairs = self._pairs
        return all(pair in pairs for pair in pairwise(links))
