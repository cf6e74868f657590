"""One-shot timer events for the link servers, cheaper than ``env.timeout``.

A server (a link exit or an origin queue) keeps at most one live timer; a timer carries
the token it was made with, so a timer replaced by an earlier one fires as a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.core import NORMAL


class Wake(simpy.Event):
    """A bare timer event carrying which server to wake and the token it was made with."""

    def __init__(self, env: simpy.Environment, delay: float, server: int, token: int,
                 callback: Callable[[Any], None]) -> None:
        self.env = env
        self.callbacks = [callback]
        self._ok = True
        self._value = None
        self.server = server
        self.token = token
        env.schedule(self, NORMAL, delay)
