"""Environment variables that tune speed, read and checked in one place.

``V2X_SIM_KERNEL_THREADS`` (threads serving the edge nodes' queues at once) and
``V2X_SIM_REPORT_WORKERS`` (processes drawing the report's figures) change how fast a
run goes, never its results. A count that is not a whole number from 1 to 64 is an
error naming the variable, like any other bad input, not silently replaced by the
default; the command line checks them all before it starts (`check_environment`).
"""

from __future__ import annotations

import os

from v2x_sim._core.errors import ScenarioError

KERNEL_THREADS = "V2X_SIM_KERNEL_THREADS"
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


def check_environment() -> None:
    """Check every speed-tuning variable (the command line calls this first)."""
    for name in (KERNEL_THREADS, REPORT_WORKERS):
        env_count(name)
