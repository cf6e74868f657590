"""Named, independent random streams derived from one master seed.

Each component asks for its generator by a stable name ("demand", "channel.pc5", ...).
The stream for a name depends only on the master seed and the name (hashed with
``zlib.crc32``, never Python's salted ``hash``), so adding a component or changing a
policy leaves every other component's random numbers unchanged: the basis of common
random numbers in paired comparisons.
"""

from __future__ import annotations

import zlib

import numpy as np


class RandomStreams:
    """Factory of per-component ``numpy.random.Generator`` objects.

    Args:
        seed: the master seed of the run.
    """

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.seed = int(seed)
        self._issued: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """The generator for component ``name``; the same object on repeated calls."""
        if name not in self._issued:
            key = zlib.crc32(name.encode("utf-8"))
            sequence = np.random.SeedSequence(entropy=self.seed, spawn_key=(key,))
            self._issued[name] = np.random.Generator(np.random.PCG64(sequence))
        return self._issued[name]
