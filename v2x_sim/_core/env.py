"""Environment variables that tune speed, read and checked in one place.

``V2X_SIM_KERNEL_THREADS`` (threads serving the edge nodes' queues at once),
``V2X_SIM_KERNEL_BACKGROUND`` (1: edge kernels run beside the simulation on a second
thread) and ``V2X_SIM_REPORT_WORKERS`` (processes drawing the report's figures) change
how fast a run goes, never its results. A count that is not a whole number from 1 to
64, or a switch that is not 0 or 1, is an error naming the variable, like any other
bad input, not silently replaced by the default; the command line checks them all
before it starts (`check_environment`).
"""

from __future__ import annotations

import os

from v2x_sim._core.errors import ScenarioError

KERNEL_THREADS = "V2X_SIM_KERNEL_THREADS"
KERNEL_BACKGROUND = "V2X_SIM_KERNEL_BACKGROUND"
REPORT_WORKERS = "V2X_SIM_REPORT_WORKERS"
MAX_COUNT = 64


def env_count(name: str) -> int | None:
    """The whole number 1..64 in environment variable ``name``; None when unset or blank.

    Raises:
        ScenarioError: the variable holds anything else (``0``, ``two``, ``-1``, ``65``).
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
        raise ScenarioError(name, value,
                            f"expected a whole number from 1 to {MAX_COUNT} (or unset)")
    return int(value)


def env_flag(name: str) -> bool:
    """Environment variable ``name`` as a switch: ``1`` on; ``0``, unset or blank off.

    Raises:
        ScenarioError: the variable holds anything else (``yes``, ``2``, ``true``).
    """
    value = os.environ.get(name, "").strip()
    if value not in ("", "0", "1"):
        raise ScenarioError(name, value, "expected 0 or 1 (or unset)")
    return value == "1"


def check_environment() -> None:
    """Check every speed-tuning variable (the command line calls this first)."""
    for name in (KERNEL_THREADS, REPORT_WORKERS):
        env_count(name)
    env_flag(KERNEL_BACKGROUND)
