"""Policy registry: built-in names, or ``package.module:Class`` for your own."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from v2x_sim._core.classes import in_process_class
from v2x_sim._core.errors import (
    PolicyError,
    ScenarioError,
    V2XSimError,
    describe_exception,
)
from v2x_sim._core.suggest import did_you_mean
from v2x_sim.control.policies.at_departure import AtDeparture
from v2x_sim.control.policies.dynamic_shortest import DynamicShortest
from v2x_sim.control.policies.incident_detour import IncidentDetour
from v2x_sim.control.policies.none import NoRerouting
from v2x_sim.control.policies.oracle import Oracle
from v2x_sim.control.policies.predictive import Predictive
from v2x_sim.control.policies.probabilistic import Probabilistic
from v2x_sim.control.policies.system_optimal import SystemOptimal
from v2x_sim.control.policy import Policy

BUILT_IN: dict[str, type] = {
    "none": NoRerouting,
    "at_departure": AtDeparture,
    "dynamic_shortest": DynamicShortest,
    "incident_detour": IncidentDetour,
    "probabilistic": Probabilistic,
    "predictive": Predictive,
    "system_optimal": SystemOptimal,
    "oracle": Oracle,
}

REQUIRED = ("name", "periodic", "on_departure", "on_hazard", "uses_truth", "decide")


def _import_from_here(module_name: str) -> Any:
    """Import a module, also from the working directory (as ``python -m`` would).

    The ``v2x-sim`` command's own folder comes first on ``sys.path``, not the folder it
    runs in; a user's ``my_policies.py`` beside their scenario should still be found.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError:
        here = os.getcwd()
        if here in sys.path:
            raise
        sys.path.append(here)
        try:
            return importlib.import_module(module_name)
        finally:
            sys.path.remove(here)


def resolve_policy_class(spec: str, *, field_path: str = "control.policy") -> type:
    """The class a policy name or ``package.module:Class`` path refers to.

    A class passed from Python (``policy=MyPolicy``) arrives as its spec; one defined
    where no import can find it (a notebook cell) is found in this process's table
    (`v2x_sim._core.classes`).
    """
    if spec in BUILT_IN:
        return BUILT_IN[spec]
    remembered = in_process_class(spec)
    if remembered is not None:
        return _checked(remembered, spec, field_path)
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        hint = did_you_mean(spec, BUILT_IN)
        raise ScenarioError(field_path, spec, f"expected one of {', '.join(BUILT_IN)} or "
                            f"'package.module:Class'{'; ' + hint if hint else ''}")
    try:
        module = _import_from_here(module_name)
    except ImportError as exc:
        raise ScenarioError(field_path, spec, f"cannot import module {module_name!r}: {exc}"
                            ) from None
    cls: Any = module
    for part in class_name.split("."):  # a nested class: Outer.Inner
        cls = getattr(cls, part, None)
    if cls is None or not inspect.isclass(cls):
        classes = [name for name, value in vars(module).items() if inspect.isclass(value)]
        hint = did_you_mean(class_name, classes)
        raise ScenarioError(field_path, spec, f"module {module_name!r} has no class "
                            f"{class_name!r}{'; ' + hint if hint else ''}")
    return _checked(cls, spec, field_path)


def _checked(cls: type, spec: str, field_path: str) -> type:
    missing = [name for name in REQUIRED if not hasattr(cls, name)]
    if missing:
        raise ScenarioError(field_path, spec, "not a policy: it lacks "
                            + ", ".join(missing) + " (see v2x_sim.control.Policy)")
    return cls


class GuardedPolicy:
    """A user's policy whose exceptions become one `PolicyError` naming it.

    Everything else is the wrapped policy's (attributes are looked up on it), so the
    control loop cannot tell the difference.
    """

    def __init__(self, policy: Any, spec: str) -> None:
        self._policy = policy
        self._spec = spec

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)

    def decide(self, view: Any) -> Any:
        """The wrapped policy's decision; its exception, if any, as a `PolicyError`."""
        try:
            return self._policy.decide(view)
        except V2XSimError:
            raise
        except Exception as exc:
            raise PolicyError(self._spec, "decide", describe_exception(exc)) from exc


def make_policy(spec: str, params: dict[str, Any], *, field_path: str = "control") -> Policy:
    """Instantiate a policy with keyword ``params``; errors name the field.

    A user's policy (``package.module:Class``) comes wrapped in `GuardedPolicy`: an
    exception it raises, building or deciding, is reported in one line naming
    ``control.policy`` and the exception, not as a traceback from inside the simulator.
    """
    cls = resolve_policy_class(spec, field_path=f"{field_path}.policy")
    try:
        policy = cls(**params)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{field_path}.params", params, f"{spec}: {exc}") from None
    except V2XSimError:
        raise
    except Exception as exc:
        if spec in BUILT_IN:
            raise
        raise PolicyError(spec, "__init__", describe_exception(exc)) from exc
    if spec in BUILT_IN:
        return policy  # type: ignore[no-any-return]
    return GuardedPolicy(policy, spec)  # type: ignore[return-value]
