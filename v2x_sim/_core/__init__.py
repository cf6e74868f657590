"""Shared foundations: error types, named random streams, unit conversions."""

from v2x_sim._core.errors import InputFileError, PolicyError, ScenarioError, V2XSimError
from v2x_sim._core.streams import RandomStreams

__all__ = ["InputFileError", "PolicyError", "RandomStreams", "ScenarioError", "V2XSimError"]
