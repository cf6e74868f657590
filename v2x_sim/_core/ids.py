"""External ids of nodes and links: opaque strings, however the user wrote them.

Real networks name their junctions and roads with text (SUMO ``n0_0``, ``-12345#2``;
OpenStreetMap node numbers; GMNS ids), generated ones with numbers. Inside, every
external id is a ``str`` and arrays are indexed by position; YAML may write an id as an
integer (``origin: 7``) or a string (``origin: "n0_0"``), and `normalise_id` turns both
into the same key, so ``7`` and ``"7"`` name one node.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def normalise_id(value: Any) -> str:
    """The text key of an external id given as an integer or a string.

    Raises:
        TypeError: anything else (a bool, a float, None): ids are never numbers to
            compute with, and ``1.0`` or ``True`` are more likely typos than ids.
    """
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{value!r} is not an id (expected an integer or a string)")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    raise TypeError(f"{value!r} is not an id (expected an integer or a string)")


def id_array(values: Any, count: int) -> np.ndarray[Any, np.dtype[np.str_]]:
    """External ids as a numpy string array; ``None`` gives ``"0" .. str(count - 1)``."""
    if values is None:
        return np.arange(count).astype(str)
    return np.array([normalise_id(v) for v in np.asarray(values).tolist()], dtype=str)
