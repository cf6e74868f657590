"""Shared building blocks of scenario sections: the strict base model and unit types."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from v2x_sim._core.suggest import did_you_mean

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


def is_kind_table(default: Any) -> bool:
    """A mapping from fixed kinds to sub-sections (``edge.service``, ``cloud.service``).

    Its default defines the kinds: a partial table overrides only the kinds it names,
    and a kind the default lacks is an error.
    """
    return (isinstance(default, dict) and bool(default)
            and all(isinstance(v, BaseModel) for v in default.values()))


def _over(default: BaseModel, value: dict[str, Any]) -> dict[str, Any]:
    return {**default.model_dump(), **value}


class Section(BaseModel):
    """Base: unknown keys are errors, values are immutable once loaded.

    A partial mapping given for a sub-section is laid over that sub-section's own
    default (``arterial: {lanes: 3}`` keeps the arterial's speed and capacity), so YAML
    and ``--set`` overrides only need to name what changes. The same holds for tables
    of kinds (``cloud.service: {status: {mean_s: 0.001}}`` keeps ``status``'s
    distribution and every other kind); a kind the default table lacks is an error.
    Deeper levels merge the same way, each against its own field's default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _partial_over_default(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict) or info.field_name is None:
            return value
        default = cls.model_fields[info.field_name].get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            return _over(default, value)
        if is_kind_table(default):
            unknown = [k for k in value if k not in default]
            if unknown:
                hint = did_you_mean(str(unknown[0]), map(str, default))
                raise ValueError(f"unknown kind {unknown[0]!r} (the kinds are "
                                 f"{', '.join(map(str, default))}){'; ' + hint if hint else ''}")
            merged: dict[str, Any] = {k: m.model_dump() for k, m in default.items()}
            for kind, entry in value.items():
                merged[kind] = _over(default[kind], entry) if isinstance(entry, dict) else entry
            return merged
        return value
