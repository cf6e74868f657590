"""numba's ``njit`` with a fallback: compile without the on-disk cache when none is usable.

``njit(cache=True)`` makes numba look for a cache folder when the function is
decorated, that is at import: ``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside
the source, else the user's cache folder (``~/.cache/numba``). With a read-only package
folder and an unusable ``HOME`` there is none, and numba raises, so the package would
not import. Here the kernel is then compiled without caching (slower first call in each
process, same results) and one warning says how to get the cache back: point
``NUMBA_CACHE_DIR`` at a writable folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numba

log = logging.getLogger(__name__)

_warned = False


def _no_cache_location(error: RuntimeError) -> bool:
    return "no locator available" in str(error)


def njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)`` as a decorator factory; ``cache=True`` may fall back.

    Args:
        **options: numba's options (``cache``, ``parallel``, ``fastmath``, ...).
    """

    def decorate(function: Callable[..., Any]) -> Any:
        global _warned
        try:
            return numba.njit(**options)(function)
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
