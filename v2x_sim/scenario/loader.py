"""Load scenarios from YAML, apply ``--set`` overrides, report errors in one line.

Every failure becomes a `ScenarioError` (a field: dotted path, value, expectation) or an
`InputFileError` (the file itself), never a pydantic or YAML traceback.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from v2x_sim._core.classes import specs_for_classes
from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.scenario.schema import Scenario
from v2x_sim.scenario.suggest import allowed_value_hint, unknown_field_hint
from v2x_sim.scenario.yaml_reader import YamlLimitError, describe_yaml_error, load_yaml

_MISSING = object()


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a non-empty mapping at the top.

    Duplicate keys, too deep nesting, aliases expanding too far (limits in
    `v2x_sim.scenario.yaml_reader`) and characters YAML forbids (a NUL byte) are errors
    naming the line; an empty file (or one holding only comments) is an error too.
    """
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a directory, expected a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"cannot read: not UTF-8 text (byte {exc.start})"
                             ) from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        problem, line = describe_yaml_error(exc, text)
        raise InputFileError(path, f"not valid YAML: {problem}", line=line) from None
    if data is None:
        raise InputFileError(path, "the file is empty; expected a scenario: a mapping of "
                                   "sections such as name:, road:, demand: ({} for all "
                                   "defaults)")
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected a mapping of sections, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


FILE_FIELDS = (("road", "file", "nodes"), ("road", "file", "links"), ("road", "file", "network"),
               ("road", "signals", "file"), ("demand", "trips_file"),
               ("routing", "file", "routes"), ("routing", "file", "link_times"))
"""Scenario fields holding input file paths, relative to the YAML that names them."""


def anchor_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make the relative input file paths in ``data`` absolute against ``folder``.

    A scenario's files are relative to its own YAML: a parent's (``extends:``) to the
    parent's folder, and a resolved scenario written into a results folder names them
    absolutely so that it runs from there.
    """
    for keys in FILE_FIELDS:
        node: Any = data
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            path = Path(node[keys[-1]]).expanduser()
            if not path.is_absolute():
                node[keys[-1]] = str(folder / path)
    return data


def _parent_path(path: Path, parent: str) -> Path:
    """The file that ``extends: parent`` in ``path`` names.

    A path (relative to ``path``'s folder), or the name of a bundled scenario
    (``extends: quickstart``) when no file of that name exists.
    """
    from v2x_sim.scenario.presets import bundled_scenario, missing_scenario_reason

    candidate = Path(parent).expanduser()
    if not candidate.is_absolute():
        candidate = path.parent / candidate
    if candidate.exists():
        return candidate
    bundled = bundled_scenario(parent)
    if bundled is not None:
        return bundled
    bare = len(Path(parent).parts) == 1 and not Path(parent).suffix
    reason = missing_scenario_reason(parent if bare else candidate)
    raise ScenarioError("extends", parent, f"{reason} (looked for {candidate})")


def _read_with_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        raise InputFileError(path, "extends: forms a cycle")
    data = read_yaml_mapping(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError("extends", parent, "expected the path of another scenario YAML")
    parent_path = _parent_path(path, parent)
    # the parent's relative files stay relative to the parent's own folder, made
    # absolute: the child's own folder is joined to whatever stays relative later
    inherited = anchor_paths(_read_with_extends(parent_path, (*seen, resolved)),
                              parent_path.absolute().parent)
    return _merge(inherited, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.0.c=value`` into a key path and a YAML-parsed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError("--set", text, "expected path.to.field=value")
    parts = key.strip().split(".")
    if any(not p for p in parts):
        raise ScenarioError("--set", text, "empty component in the dotted path")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except YamlLimitError as exc:
        raise ScenarioError(f"--set {key.strip()}", raw, exc.problem) from None
    except yaml.YAMLError:
        value = raw
    return parts, value


def _set_path(data: dict[str, Any], parts: list[str], value: Any, label: str) -> None:
    """Set ``value`` at the key path ``parts`` (lists indexed by number) inside ``data``."""
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        dotted = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(dotted, part, f"list index out of range 0..{len(node) - 1}")
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            parent = ".".join(parts[:depth])
            raise ScenarioError(label, value, f"{parent} holds a plain value, not fields")


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return ``data`` with each ``path=value`` override set (lists indexed by number)."""
    result = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        _set_path(result, parts, value, f"--set {'.'.join(parts)}")
    return result


def apply_settings(data: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Return ``data`` with each ``{"dotted.path": value}`` set; values are Python values.

    The Python form of ``--set``: ``{"demand.random.rate_vph": 2000, "incidents.0.start_s":
    600}``. A class (a policy) becomes its ``module:Class`` spec.
    """
    result = copy.deepcopy(data)
    for key, value in settings.items():
        label = f"overrides[{key!r}]"
        if not isinstance(key, str) or not key.strip():
            raise ScenarioError(label, value, "expected a dotted field path such as "
                                "'demand.random.rate_vph'")
        parts = key.strip().split(".")
        if any(not p for p in parts):
            raise ScenarioError(label, value, "empty component in the dotted path")
        _set_path(result, parts, specs_for_classes(value), label)
    return result


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _lookup(data: Any, loc: tuple[str | int, ...]) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def scenario_from_dict(data: dict[str, Any], *, base_dir: Path | None = None) -> Scenario:
    """Validate a plain dict into a `Scenario`, raising one `ScenarioError` on failure.

    A policy class may stand where a policy name goes (it becomes its spec).
    """
    data = specs_for_classes(data)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if not str(p).startswith("function-"))
        value = _lookup(data, loc)
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            hint = unknown_field_hint(Scenario, loc)
            message = (f"unknown field; {hint}" if hint else "unknown field (check the "
                       "spelling; `v2x-sim schema` lists every field)")
        elif first["type"] in ("enum", "literal_error"):
            hint = allowed_value_hint(first.get("input"), str(first.get("ctx", {})
                                                                 .get("expected", "")))
            message = f"{message}; {hint}" if hint else message
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if first["type"] == "missing":
            value, message = "(missing)", "required field is missing"
        elif value is _MISSING:
            value = first.get("input")
        raise ScenarioError(_dotted(loc), value, message) from None
    return scenario.with_base_dir(base_dir or Path.cwd())


Overrides = list[str] | tuple[str, ...] | dict[str, Any]
"""``["a.b=1", ...]`` (``--set`` strings, values in YAML) or ``{"a.b": 1}`` (Python values)."""


def override_data(data: dict[str, Any], overrides: Overrides | None = None,
                  sections: dict[str, Any] | None = None) -> dict[str, Any]:
    """``data`` with ``overrides`` set, then ``sections`` (partial mappings) laid over it."""
    if isinstance(overrides, str):
        raise ScenarioError("overrides", overrides, "expected a list of 'path=value' strings "
                            "or a dict {'path': value}, not one string")
    if isinstance(overrides, dict):
        data = apply_settings(data, overrides)
    elif overrides:
        data = apply_overrides(data, list(overrides))
    if sections:
        data = _merge(data, specs_for_classes(sections))
    return data


def load_scenario(path: str | Path, overrides: Overrides | None = None,
                  **sections: Any) -> Scenario:
    """Load and validate a scenario YAML, with optional overrides.

    Three ways to change fields, applied in this order::

        load_scenario("quickstart", ["demand.random.rate_vph=2000"])   # as --set does
        load_scenario("quickstart", {"demand.random.rate_vph": 2000})  # Python values
        load_scenario("quickstart", simulation={"horizon_s": 600})     # partial sections

    A partial section keeps every field it does not name. A policy class may stand
    where a policy name goes (``control={"policy": MyPolicy}``).

    Args:
        path: the YAML file, or the name of a bundled scenario (see `list_presets`).
        overrides: ``dotted.path=value`` strings (values are YAML text) or a dict of
            dotted paths to Python values (lists indexed by number: ``incidents.0.start_s``).
        **sections: whole sections as (partial) mappings, laid over the file's.

    Raises:
        InputFileError: the file is missing or is not YAML.
        ScenarioError: a field is invalid; the message names it.
    """
    from v2x_sim.scenario.presets import missing_scenario_reason, resolve_scenario_path

    file = resolve_scenario_path(path)
    if not file.exists():
        raise InputFileError(path, missing_scenario_reason(path))
    data = override_data(_read_with_extends(file), overrides, sections)
    return scenario_from_dict(data, base_dir=file.parent)


def override_scenario(scenario: Scenario, overrides: Overrides | None = None,
                      **sections: Any) -> Scenario:
    """A copy of ``scenario`` with overrides, as `load_scenario` takes them."""
    if not overrides and not sections:
        return scenario
    data = override_data(scenario.to_plain(), overrides, sections)
    return scenario_from_dict(data, base_dir=scenario.base_dir)
