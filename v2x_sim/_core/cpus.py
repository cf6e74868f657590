"""How many CPUs this process may use: the default number of worker processes."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask), not every CPU of the node.

    On a shared node, a batch scheduler or ``taskset`` gives a job a few of the node's
    cores; ``os.cpu_count()`` would still count them all and oversubscribe the job's
    share. ``os.sched_getaffinity`` (Linux) knows the mask; elsewhere all CPUs count.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1
