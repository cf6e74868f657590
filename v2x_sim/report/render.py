"""Figures to PNG bytes, on several processes where the machine has idle CPUs.

Rendering is matplotlib's Agg drawing (tick and text layout, mostly Python) and takes
0.1-0.5 s a figure; a run's report draws about nine, independently of each other. On
Linux they are shared among forked worker processes, each inheriting the loaded results
(nothing is pickled but the PNG bytes coming back): with two CPUs the report's drawing
takes about half the wall time, the same PNG bytes as drawing them one after another
(a test compares them). ``V2X_SIM_REPORT_WORKERS`` sets the number of processes (1:
draw in this process); the default is one per usable CPU, at most four. Where fork is
not available (macOS's and Windows' default start methods import the package afresh
and would pay more than they save), figures are drawn in this process.
"""

from __future__ import annotations

import ctypes
import io
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence

from matplotlib.figure import Figure

from v2x_sim._core.cpus import usable_cpus
from v2x_sim._core.env import REPORT_WORKERS, env_count

DPI = 100
MAX_WORKERS = 4

Builder = Callable[[], Figure]

_pending: Sequence[Builder] = ()  # read by forked workers (inherited, never pickled)


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """A figure rendered to PNG in memory (Agg, no pyplot)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def report_workers(n_figures: int) -> int:
    """Processes that draw ``n_figures`` figures: ``V2X_SIM_REPORT_WORKERS`` or the CPUs.

    Never more than the figures, at least one; 1 where fork is unavailable.
    """
    wanted = env_count(REPORT_WORKERS)
    if wanted is None:
        wanted = min(usable_cpus(), MAX_WORKERS)
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(wanted, n_figures, 64))


def _die_quietly_when_orphaned(parent: int) -> None:
    """In a forked worker: end without a word when the run that forked it is gone.

    If the run is killed while figures are drawn, its workers are orphaned. Left alone,
    one blocks for ever on a pipe it holds both ends of (a process that never ends and
    keeps the terminal's stderr open), and another meets a closed pipe as it sends its
    figure back: Python ignores SIGPIPE, so it raises BrokenPipeError and
    multiprocessing prints its traceback on the terminal the user killed the run from.
    So the kernel is asked to kill the worker when its parent dies (Linux's
    PR_SET_PDEATHSIG; checked afterwards in case the parent died first), and a write to
    a pipe without a reader ends it through SIGPIPE's default action.
    """
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # orphaned before the request took effect
        signal.raise_signal(signal.SIGKILL)  # what the kernel would have sent


def _draw(index: int) -> bytes:
    """In a forked worker: the PNG of the ``index``-th pending figure."""
    return png_bytes(_pending[index]())


def render_all(builders: Sequence[Builder]) -> list[bytes]:
    """The PNG bytes of each builder's figure, in the builders' order.

    Builders run in forked workers (see the module docstring) when more than one is
    allowed, else here; either way the bytes are the same. If the workers fail (a
    builder raises, or the pool cannot start), the figures are drawn here, so an error
    reaches the caller exactly as from a serial loop, not as a worker's re-raised copy.
    """
    global _pending
    workers = report_workers(len(builders))
    if workers > 1:
        _pending = builders
        try:
            with multiprocessing.get_context("fork").Pool(
                    workers, initializer=_die_quietly_when_orphaned,
                    initargs=(os.getpid(),)) as pool:
                return pool.map(_draw, range(len(builders)), chunksize=1)
        except Exception:  # drawn again below, where a builder's error surfaces as itself
            pass
        finally:
            _pending = ()
    return [png_bytes(build()) for build in builders]
