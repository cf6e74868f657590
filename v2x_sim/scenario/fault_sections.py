"""The ``faults:`` section: timed windows in which part of the V2X chain fails.

Each entry names a kind, a window ``[start_s, end_s)`` and its targets. A window with
``end_s == start_s`` is allowed and does nothing (a run with it is identical to one
without). Targets are device or node indices as the run's tables name them: RSUs by
the ``rsu`` column of ``rsus.csv``, sensors by the ``device`` column of
``devices.csv``, edge nodes by index (``3`` or ``"edge-3"``). Indices are checked
against the built world (its device counts are known only then).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from v2x_sim.scenario.base import NonNegativeFloat, Probability, Section


class FaultKind(StrEnum):
    """What fails in a fault window."""

    RSU_OUTAGE = "rsu_outage"
    SENSOR_FAILURE = "sensor_failure"
    EDGE_DOWN = "edge_down"
    CLOUD_OUTAGE = "cloud_outage"
    BACKHAUL_CUT = "backhaul_cut"
    WAN_CUT = "wan_cut"
    CELLULAR_DEGRADATION = "cellular_degradation"


DEVICE_KINDS = (FaultKind.RSU_OUTAGE, FaultKind.SENSOR_FAILURE)
"""Kinds whose targets are devices (listed, or a random ``share``)."""
EDGE_KINDS = (FaultKind.EDGE_DOWN, FaultKind.BACKHAUL_CUT)
"""Kinds whose targets are edge nodes."""
ZONE_KINDS = (FaultKind.CLOUD_OUTAGE, FaultKind.WAN_CUT, FaultKind.CELLULAR_DEGRADATION)
"""Kinds that hit the whole zone (no targets)."""

_EDGE_NAME = re.compile(r"^edge-(\d+)$")


def _target(value: Any) -> Any:
    """An index as an integer; ``"edge-3"`` (how files name edge node 3) becomes 3."""
    if isinstance(value, str):
        match = _EDGE_NAME.match(value.strip())
        if match:
            return int(match.group(1))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected a non-negative integer index (or 'edge-K' for edge node K)")
    return value


Target = Annotated[int, BeforeValidator(_target), Field(ge=0), WithJsonSchema(
    {"anyOf": [{"type": "integer", "minimum": 0},
               {"type": "string", "pattern": "^edge-[0-9]+$"}]})]


class FaultWindow(Section):
    """One fault: what fails, when, and which devices or nodes.

    Attributes:
        kind: what fails (see `FaultKind`).
        start_s, end_s: the window ``[start_s, end_s)`` in simulated seconds.
        targets: RSU indices (``rsu_outage``), sensor device indices
            (``sensor_failure``) or edge node indices (``edge_down``, ``backhaul_cut``).
        share: instead of ``targets`` for device kinds: this share of the RSUs or
            sensors, drawn from the fault's own random stream.
        loss: ``cellular_degradation``: probability that a Uu message is lost during
            the window (replaces the channel's own loss if larger).
        latency_factor: ``cellular_degradation``: Uu delays are multiplied by this.
    """

    kind: FaultKind
    start_s: NonNegativeFloat
    end_s: NonNegativeFloat
    targets: list[Target] = Field(default_factory=list)
    share: Probability | None = None
    loss: Probability | None = None
    latency_factor: Annotated[float, Field(strict=True, ge=1.0, le=1000.0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FaultWindow:
        if self.end_s < self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must not be before start_s "
                             f"({self.start_s:g})")
        kind = self.kind
        if kind in DEVICE_KINDS:
            if bool(self.targets) == (self.share is not None):
                raise ValueError(f"{kind.value} needs either targets (indices) or share "
                                 "(a random share of the devices), not both")
        elif self.share is not None:
            raise ValueError(f"share is only for rsu_outage and sensor_failure, not {kind.value}")
        if kind in EDGE_KINDS and not self.targets:
            raise ValueError(f"{kind.value} needs targets: the edge node indices that fail")
        if kind in ZONE_KINDS and self.targets:
            raise ValueError(f"{kind.value} hits the whole zone: it takes no targets")
        degradation = self.loss is not None or self.latency_factor is not None
        if kind == FaultKind.CELLULAR_DEGRADATION and not degradation:
            raise ValueError("cellular_degradation needs loss and/or latency_factor")
        if kind != FaultKind.CELLULAR_DEGRADATION and degradation:
            raise ValueError(f"loss and latency_factor are only for cellular_degradation, "
                             f"not {kind.value}")
        return self

    @property
    def duration_s(self) -> float:
        """Length of the window (0 for an empty one)."""
        return self.end_s - self.start_s
