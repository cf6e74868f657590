"""Shared building blocks of scenario sections: the strict base model and unit types."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_HORIZON_S = 30 * 86400.0
"""Longest horizon accepted (30 days): beyond it a typo is likelier than a study."""
MAX_RATE_VPH = 1_000_000.0
"""Largest demand rate accepted; the whole zone sees ~25,000 trips an hour."""

PositiveFloat = Annotated[float, Field(strict=True, gt=0)]
NonNegativeFloat = Annotated[float, Field(strict=True, ge=0)]
Probability = Annotated[float, Field(strict=True, ge=0, le=1)]
def _external_id(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str) or (
            isinstance(value, str) and not value.strip()):
        raise ValueError("expected a node or link id: an integer or a non-empty string "
                         "(quote ids that are not plain integers)")
    return value


ExternalId = Annotated[int | str, BeforeValidator(_external_id)]
"""A node or link id as written in YAML: an integer (``7``) or a string (``"n0_0"``).

Kept as written (so a resolved scenario reads like its source); lookups in the network
normalise both forms to the same text key (`v2x_sim._core.ids.normalise_id`)."""
NodeId = ExternalId
LinkId = ExternalId


class Section(BaseModel):
    """Base: unknown keys are errors, values are immutable once loaded.

    A partial mapping given for a sub-section is laid over that sub-section's own
    default (``arterial: {lanes: 3}`` keeps the arterial's speed and capacity), so YAML
    and ``--set`` overrides only need to name what changes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _partial_over_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, info in cls.model_fields.items():
            value = data.get(name)
            if isinstance(value, dict) and info.default_factory is not None:
                default = info.default_factory()  # type: ignore[call-arg]
                if isinstance(default, BaseModel):
                    merged[name] = {**default.model_dump(exclude_unset=False), **value}
        return merged
