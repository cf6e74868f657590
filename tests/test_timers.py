"""The link servers' bare timers run exactly where `env.schedule` would put them.

`WakeQueue.push` writes into simpy's event queue itself (a cheaper event than a
`simpy.Event`); the engine's results stay identical only if a timer fires at the same
instant and in the same order among simultaneous events as an event scheduled with
``env.schedule(event, NORMAL, at - now)``.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from v2x_sim.traffic.timers import Wake, WakeQueue


def test_timers_fire_at_their_instant_in_schedule_order_among_simpy_events() -> None:
    """Timers and timeouts due at the same instants fire in the order they were made.

    Made at t = 0: timeout A (2.5 s), timer 1 (at 2.5), timeout B (1.0 s), timer 2
    (at 1.0), timer 3 (at 2.5). Expected: at 1.0 B then 2 (made in that order), at 2.5
    A, 1, 3. A timer made at t = 1.0 for 1.0 + 0.25 fires at 1.25, before 2.5's events.
    """
    env = simpy.Environment()
    log: list[tuple[float, str]] = []

    def on_wake(timer: Wake) -> None:
        log.append((env.now, f"timer {timer.server}/{timer.token}"))
        if timer.server == 2:
            timers.push(env.now + 0.25, 4, 9)

    timers = WakeQueue(env, on_wake)

    def note(name: str) -> Callable[[simpy.Event], None]:
        return lambda _event: log.append((env.now, name))

    env.timeout(2.5).callbacks.append(note("timeout A"))
    timers.push(2.5, 1, 7)
    env.timeout(1.0).callbacks.append(note("timeout B"))
    timers.push(1.0, 2, 8)
    timers.push(2.5, 3, 1)
    env.run()
    assert log == [(1.0, "timeout B"), (1.0, "timer 2/8"), (1.25, "timer 4/9"),
                   (2.5, "timeout A"), (2.5, "timer 1/7"), (2.5, "timer 3/1")]


def test_a_timer_lands_on_the_same_float_instant_as_env_schedule() -> None:
    """The instant is ``now + (at - now)``, as ``env.schedule`` computes it from a delay.

    At now = 0.2, at = 0.9: 0.2 + (0.9 - 0.2) = 0.8999999999999999, not 0.9; a timer
    must carry exactly that float, or ties with other events would break differently.
    """
    env = simpy.Environment(initial_time=0.2)
    fired: list[float] = []
    timers = WakeQueue(env, lambda _timer: fired.append(env.now))
    timers.push(0.9, 0, 0)
    reference = simpy.Event(env)
    reference.callbacks.append(lambda _event: fired.append(env.now))
    reference._ok, reference._value = True, None
    env.schedule(reference, delay=0.9 - 0.2)
    env.run()
    assert fired == [0.2 + (0.9 - 0.2)] * 2
    assert fired[0] != 0.9
