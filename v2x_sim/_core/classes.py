"""Classes handed to the library as objects (a policy class in a notebook), kept by name.

A scenario holds plain values only (it is written to ``scenario.yaml``), so a class
passed from Python becomes its ``module:QualName`` spec. A class that the spec can
import again (defined in a module) needs nothing more; one that it cannot (defined in a
notebook cell or inside a function) is remembered here for this process, so the spec
still finds it. Worker processes of a study started by fork inherit the table; others
(spawned processes, Dask) can use only importable classes.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

_IN_PROCESS: dict[str, type] = {}


def class_spec(cls: type) -> str:
    """``module:QualName`` of ``cls``, remembered here unless importing it finds ``cls``."""
    spec = f"{cls.__module__}:{cls.__qualname__}"
    try:
        found: Any = importlib.import_module(cls.__module__)
        for part in cls.__qualname__.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        found = None
    if found is not cls:
        _IN_PROCESS[spec] = cls
    return spec


def in_process_class(spec: str) -> type | None:
    """The class remembered under ``spec`` by `class_spec`, if any."""
    return _IN_PROCESS.get(spec)


def specs_for_classes(value: Any) -> Any:
    """``value`` with every class in it (at any depth of dicts and lists) as its spec."""
    if inspect.isclass(value):
        return class_spec(value)
    if isinstance(value, dict):
        return {k: specs_for_classes(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [specs_for_classes(v) for v in value]
    return value
