"""Progress bars for Python callers: ``progress=True`` draws one with tqdm.auto.

In a notebook tqdm.auto draws a widget, in a terminal a text bar. tqdm is optional
(``pip install 'v2x-sim[notebook]'``); asking for a bar without it is an error that
says so. A callable passed as ``progress`` is used as it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from v2x_sim._core.errors import MissingExtraError, ScenarioError

RunProgress = Callable[[float, float], None]
StudyProgress = Callable[[int, int, int], None]


def _tqdm(**options: Any) -> Any:
    try:
        module = importlib.import_module("tqdm.auto")
    except ImportError:
        raise MissingExtraError("progress=True needs tqdm: pip install 'v2x-sim[notebook]' "
                                "(or pass progress=None, or your own callable)") from None
    return module.tqdm(**options)


class RunBar:
    """``progress(sim_time_s, horizon_s)`` as a tqdm bar in simulated seconds."""

    def __init__(self, label: str) -> None:
        self._bar = _tqdm(desc=label, unit="sim s", total=None, leave=True)

    def __call__(self, sim_time_s: float, horizon_s: float) -> None:
        """Advance to ``sim_time_s`` of ``horizon_s``."""
        if self._bar.total is None:
            self._bar.total = round(horizon_s)
        self._bar.update(round(sim_time_s) - self._bar.n)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.close()


class StudyBar:
    """``progress(done, total, skipped)`` as a tqdm bar over a study's runs."""

    def __init__(self, label: str) -> None:
        self._bar = _tqdm(desc=label, unit="run", total=None, leave=True)

    def __call__(self, done: int, total: int, skipped: int) -> None:
        """``done`` of ``total`` runs finished (``skipped`` were complete already)."""
        self._bar.total = total
        if skipped:
            self._bar.set_postfix_str(f"{skipped} reused")
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.close()


def resolve_progress(progress: Any, make: Callable[[], Any]) -> tuple[Any, Callable[[], None]]:
    """The callback for ``progress`` (True: ``make()``, a tqdm bar) and how to close it.

    Raises:
        ScenarioError: ``progress`` is neither a bool, None nor callable.
        MissingExtraError: ``progress=True`` without tqdm installed.
    """
    if progress is None or progress is False:
        return None, lambda: None
    if progress is True:
        bar = make()
        return bar, bar.close
    if callable(progress):
        return progress, lambda: None
    raise ScenarioError("progress", progress, "expected True (a tqdm bar), False, None or a "
                        "callable")
