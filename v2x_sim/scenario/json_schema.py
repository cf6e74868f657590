"""The scenario as a JSON Schema, for editors: completion, hover help and checks as you type.

`v2x-sim schema` prints it, in draft-07: the dialect VS Code's YAML extension (the
yaml-language-server) validates with. Pydantic writes the schema of the models; rules of
our loader need adding by hand, or an editor would flag valid scenarios:

* a mapping given for a sub-section is laid over that sub-section's default
  (`v2x_sim.scenario.base.Section`), so a sub-section reached through a field with a
  default needs none of its fields (``road.grid.arterial: {lanes: 3}`` is complete);
  such fields point to a copy of the definition without ``required``;
* tables of kinds (``edge.service``) take exactly their default's kinds, each partial;
* ``extends:`` (another scenario's path or a bundled scenario's name) is read by the
  loader before validation.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from v2x_sim._core.version import __version__
from v2x_sim.scenario.base import is_kind_table
from v2x_sim.scenario.schema import Scenario

SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
_DEFS = "definitions"  # draft-07's name; pydantic writes 2020-12's "$defs"

_PARTIAL = "{}Partial"


def _model_classes(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model class reachable from ``root``, by class name (pydantic's def names)."""
    found: dict[str, type[BaseModel]] = {}
    pending = [root]
    while pending:
        model = pending.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for field in model.model_fields.values():
            pending.extend(_nested_models(field.annotation))
    return found


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


def _partial_ref(wanted: set[str], name: str) -> dict[str, str]:
    """A $ref to the definition ``name`` without required fields (noted in ``wanted``)."""
    wanted.add(name)
    return {"$ref": f"#/{_DEFS}/{_PARTIAL.format(name)}"}


def _relax(schema: dict[str, Any], model: type[BaseModel], wanted: set[str]) -> None:
    """Point ``model``'s defaulted sub-sections at partial definitions, in ``schema``."""
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        if name not in properties:
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            described = {k: v for k, v in properties[name].items() if k != "$ref"}
            properties[name] = {**_partial_ref(wanted, type(default).__name__), **described}
        elif is_kind_table(default):
            kinds = {kind: _partial_ref(wanted, type(entry).__name__)
                     for kind, entry in default.items()}
            properties[name] = {"type": "object", "properties": kinds,
                                "additionalProperties": False,
                                "description": f"kinds: {', '.join(map(str, default))}; "
                                               "name only the ones to change"}


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) of a scenario YAML file, as a dict."""
    schema = Scenario.model_json_schema(ref_template=f"#/{_DEFS}/{{model}}")
    defs: dict[str, Any] = schema.pop("$defs", {})
    wanted: set[str] = set()
    for name, model in _model_classes(Scenario).items():
        if model is not Scenario and name in defs:
            _relax(defs[name], model, wanted)
    _relax(schema, Scenario, wanted)
    for name in sorted(wanted):
        partial = copy.deepcopy(defs[name])
        partial.pop("required", None)
        defs[_PARTIAL.format(name)] = partial
    schema["properties"] = {
        "extends": {"type": "string", "description": "Inherit another scenario and override "
                    "it: a YAML path (relative to this file) or a bundled scenario's name."},
        **schema["properties"],
    }
    return {"$schema": SCHEMA_DIALECT,
            "$comment": f"v2x-sim {__version__} scenario schema (v2x-sim schema)", **schema,
            _DEFS: defs}
