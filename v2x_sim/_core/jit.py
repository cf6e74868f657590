"""numba's ``njit`` with a fallback: compile without the on-disk cache when none is usable.

``njit(cache=True)`` makes numba look for a cache folder when the function is
decorated, that is at import: ``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside
the source, else the user's cache folder (``~/.cache/numba``). With a read-only package
folder and an unusable ``HOME`` there is none, and numba raises, so the package would
not import. Here the kernel is then compiled without caching (slower first call in each
process, same results) and one warning says how to get the cache back: point
``NUMBA_CACHE_DIR`` at a writable folder.

A cached kernel is also checked against everything it was compiled from, not only its
own file as numba does: its cache is stamped with `kernel_stamp.stamp` (its module and
the modules of the package it imports), so editing a function a kernel calls in
another module recompiles the kernel instead of running stale code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numba
from numba.core import caching as numba_caching
from numba.core import event

from v2x_sim._core.kernel_stamp import stamp

log = logging.getLogger(__name__)

_warned = False


def _no_cache_location(error: RuntimeError) -> bool:
    return "no locator available" in str(error)


def _covering(locator: type) -> type:
    """``locator`` whose source stamp also covers the modules the kernel imports."""

    class Covering(locator):  # type: ignore[misc, valid-type]
        def get_source_stamp(self) -> Any:
            return super().get_source_stamp(), stamp(Path(self._py_file))

    Covering.__name__ = Covering.__qualname__ = f"Covering{locator.__name__}"
    return Covering


_SOURCE_BACKED = (numba_caching.UserProvidedCacheLocator, numba_caching.InTreeCacheLocator,
                  numba_caching.UserWideCacheLocator)


class _CoveringImpl(numba_caching.CompileResultCacheImpl):  # type: ignore[misc]
    """numba's cache of compiled functions, with source stamps from `kernel_stamp`."""

    _locator_classes: ClassVar[list[type[object]]] = [  # type: ignore[misc]
        _covering(c) if c in _SOURCE_BACKED else c
        for c in numba_caching.CompileResultCacheImpl._locator_classes]


class _CoveringCache(numba_caching.FunctionCache):  # type: ignore[misc]
    """numba's on-disk cache of one function, stamped by `kernel_stamp` (see above)."""

    _impl_class = _CoveringImpl


def njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)`` as a decorator factory; ``cache=True`` may fall back.

    Args:
        **options: numba's options (``cache``, ``parallel``, ``fastmath``, ...).
    """

    def decorate(function: Callable[..., Any]) -> Any:
        global _warned
        try:
            dispatcher = numba.njit(**options)(function)
            if options.get("cache"):
                dispatcher._cache = _CoveringCache(function)
            return dispatcher
        except RuntimeError as error:
            if not options.get("cache") or not _no_cache_location(error):
                raise
        if not _warned:
            _warned = True
            log.warning("numba finds no writable cache folder (package folder and HOME): "
                        "compiling without a cache; set NUMBA_CACHE_DIR to a writable "
                        "folder to keep compiled kernels between runs")
        return numba.njit(**{**options, "cache": False})(function)

    return decorate


def caching() -> bool:
    """Whether compiled kernels are kept on disk (False after the fallback above)."""
    return not _warned


class _CompileListener(event.Listener):
    """Calls back when numba starts compiling, once per outermost compilation."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self.callback = callback
        self.depth = 0

    def on_start(self, ev: event.Event) -> None:
        if self.depth == 0:
            dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
            self.callback(getattr(getattr(dispatcher, "py_func", None), "__name__", "kernel"))
        self.depth += 1

    def on_end(self, ev: event.Event) -> None:
        self.depth -= 1


@contextmanager
def compile_notices(callback: Callable[[str], None]) -> Iterator[None]:
    """Within the block, call ``callback(kernel_name)`` when numba starts compiling.

    numba compiles a kernel on its first call; with the on-disk cache, later processes
    load it instead and numba reports no compilation, so on a warm cache the callback
    is never called. Functions a kernel calls compile inside its compilation and are
    not reported again. The command line uses it to say why the first run pauses.
    """
    with event.install_listener("numba:compile", _CompileListener(callback)):
        yield
