"""One-shot timer events for the link servers, cheaper than ``env.timeout``.

A server (a link exit or an origin queue) keeps at most one live timer; a timer carries
the token it was made with, so a timer replaced by an earlier one fires as a no-op.

There are ~1.3 timers per vehicle per link (about 220,000 in the zone's hour of traffic
alone), so each costs as little as simpy allows: a `Wake` is not a `simpy.Event` but a
three-slot record with what `simpy.Environment.step` reads from an event (``callbacks``,
``_ok``), and `WakeQueue.push` puts it into the environment's event queue exactly as
`simpy.Environment.schedule` would (the same instant ``now + delay``, priority, and an
event id from the same counter), so events run in the same order as with
``env.schedule`` (`tests/test_timers.py` checks both against simpy).
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.core import NORMAL


class Wake:
    """A bare timer event: which server to wake and the token it was made with."""

    __slots__ = ("callbacks", "server", "token")
    _ok = True  # a timer never fails (simpy's step reads this after the callbacks)

    callbacks: list[Callable[[Any], None]] | None
    server: int
    token: int


class WakeQueue:
    """Schedules `Wake` timers on one environment, each calling ``callback(timer)``.

    Args:
        env: the simpy environment (its event queue and event counter are used).
        callback: called with the `Wake` when it fires.
    """

    def __init__(self, env: simpy.Environment, callback: Callable[[Wake], None]) -> None:
        self.env = env
        self._queue: list[Any] = env._queue
        self._ids = env._eid
        self._callbacks: list[Callable[[Any], None]] = [callback]  # shared, never mutated

    def push(self, at: float, server: int, token: int) -> None:
        """Fire a timer for ``server`` with ``token`` at instant ``at`` (not before now)."""
        timer = Wake.__new__(Wake)  # no __init__ frame: this runs ~220,000 times an hour
        timer.callbacks, timer.server, timer.token = self._callbacks, server, token
        now = self.env._now
        # now + (at - now), like env.schedule(timer, NORMAL, at - now): the same float
        heappush(self._queue, (now + (at - now), NORMAL, next(self._ids), timer))
