"""Suggestions for scenario errors: the field or value a misspelt one was meant to be.

Pydantic says *that* ``demand.random.rat_vph`` is not a field; the loader adds *which*
field is close (``rate_vph``), found by walking the scenario's models along the error's
location, and the closest allowed value of an enum or literal (``road.generator:
gird`` -> ``grid``).
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from v2x_sim._core.suggest import did_you_mean


def _members(annotation: Any) -> list[Any]:
    """The types an annotation may hold (``Annotated``, ``Optional`` and unions opened)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in get_args(annotation) for member in _members(arg)]
    return [annotation]


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [t for t in _members(annotation) if isinstance(t, type) and issubclass(t, BaseModel)]


def _step(annotation: Any, part: str | int) -> Any | None:
    """The annotation one location step below ``annotation``, or None."""
    for member in _members(annotation):
        origin = get_origin(member)
        if isinstance(part, int) and origin in (list, tuple):
            return get_args(member)[0]
        if isinstance(part, str) and origin is dict:
            return get_args(member)[1]
        for model in _models(member):
            if isinstance(part, str) and part in model.model_fields:
                return model.model_fields[part].annotation
    return None


def _annotation_at(root: type[BaseModel], loc: Iterable[str | int]) -> Any | None:
    """The annotation of the value at ``loc`` below ``root``, or None if unknown.

    Location parts that name no field (pydantic adds a union member's name, e.g.
    ``RoadClassParams``, to a location) are skipped.
    """
    annotation: Any = root
    for part in loc:
        below = _step(annotation, part)
        if below is None:
            if isinstance(part, str) and any(m.__name__ == part for m in _models(annotation)):
                continue
            return None
        annotation = below
    return annotation


def field_names_at(root: type[BaseModel], loc: Iterable[str | int]) -> list[str]:
    """The field names allowed in the mapping at ``loc`` below the ``root`` model."""
    annotation = _annotation_at(root, loc)
    return [name for model in _models(annotation) for name in model.model_fields]


def unknown_field_hint(root: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    """``"did you mean 'rate_vph'?"`` for an unknown key at ``loc``, or ``""``.

    The candidates are the fields of the mapping the key is in and, after them, the
    fields one level further down (``roadside.rsu.spacing_m`` finds
    ``placement.spacing_m``): a key is often right but put one level too high.
    """
    if not loc or not isinstance(loc[-1], str):
        return ""
    here = _annotation_at(root, loc[:-1])
    candidates: list[str] = []
    nested: list[str] = []
    for model in _models(here):
        for name, field in model.model_fields.items():
            candidates.append(name)
            nested.extend(f"{name}.{inner}" for sub in _models(field.annotation)
                          for inner in sub.model_fields)
    return did_you_mean(loc[-1], [*candidates, *nested], key=lambda c: c.rpartition(".")[2])


def allowed_value_hint(value: Any, expected: str) -> str:
    """``"did you mean 'grid'?"`` for a value outside an enum or literal, or ``""``.

    Args:
        value: the value given.
        expected: pydantic's list of the allowed values (``"'grid', 'corridor' or
            'file'"``).
    """
    if not isinstance(value, str):
        return ""
    return did_you_mean(value, re.findall(r"'([^']*)'", expected))
