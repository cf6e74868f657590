"""Message kinds and the hops a message crosses; plain enums shared by every layer."""

from __future__ import annotations

from enum import IntEnum


class MessageKind(IntEnum):
    """What travels.

    Periodic flows (bsm, status, perception, aggregate) and the event-triggered hazard
    warning.
    """

    BSM = 0
    STATUS = 1
    PERCEPTION = 2
    AGGREGATE = 3
    HAZARD_WARNING = 4
    ROUTE_ADVICE = 5

    @property
    def key(self) -> str:
        """The lower-case name used in summary.json and latency.csv."""
        return self.name.lower()


class Hop(IntEnum):
    """Where time is spent.

    Radio, wired backhaul, wide-area network, queue, processing; ``total`` is generation
    to delivery.
    """

    AIR = 0
    BACKHAUL = 1
    WAN = 2
    QUEUE = 3
    PROCESSING = 4
    TOTAL = 5

    @property
    def key(self) -> str:
        """The lower-case name used in outputs."""
        return self.name.lower()
