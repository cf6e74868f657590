"""Shared foundations: error types, named random streams, unit conversions.

`RandomStreams` (which needs numpy) is imported on first use, so the command line can
import the error types without loading numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from v2x_sim._core.errors import InputFileError, PolicyError, ScenarioError, V2XSimError

if TYPE_CHECKING:
    from v2x_sim._core.streams import RandomStreams

__all__ = ["InputFileError", "PolicyError", "RandomStreams", "ScenarioError", "V2XSimError"]


def __getattr__(name: str) -> Any:
    if name == "RandomStreams":
        from v2x_sim._core.streams import RandomStreams

        return RandomStreams
    raise AttributeError(f"module 'v2x_sim._core' has no attribute {name!r}")
