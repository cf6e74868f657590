"""Autonomous shuttle buses: each vehicle serves its fixed line round after round."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy


def shuttle_vehicle(env: simpy.Environment, *, first_departure_s: float, layover_s: float,
                    horizon_s: float,
                    start_round: Callable[[Callable[[int, float], None]], None]
                    ) -> Generator[simpy.Event, Any, None]:
    """One shuttle: wait for its first departure, then run rounds with a layover between.

    ``start_round(on_arrive)`` puts a new round (a new trip row) on the road and calls
    ``on_arrive`` when the round ends back at the terminal.
    """
    yield env.timeout(first_departure_s)
    while env.now < horizon_s:
        finished = env.event()

        def done(_vehicle: int, _t: float, finished: simpy.Event = finished) -> None:
            finished.succeed()

        start_round(done)
        yield finished
        yield env.timeout(layover_s)
