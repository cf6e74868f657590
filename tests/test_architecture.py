"""The architecture as tests: import directions, module size, randomness, side effects, API.

Every module under ``v2x_sim/`` is parsed with ``ast``; nothing is imported, so these
tests see imports inside functions and ``if TYPE_CHECKING:`` blocks too, and a broken
module cannot hide a violation. The rules come from ARCHITECTURE.md ("Packages and the
way dependencies point", "Layers:") and STYLE.md (habits 1, 2, 3, 9, 10).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = "v2x_sim"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

# Layer of each subpackage or top-level module of v2x_sim (the name right after
# ``v2x_sim.``). Adding a package is one line here. A module may import from its own
# package or from a lower rank; top-level modules of one rank form one unit
# (world.py + result.py; cli.py + __main__.py). Packages not written yet are simply
# absent from the tree.
LAYERS: dict[str, int] = {
    "_core": 0,
    "scenario": 1,
    "metrics": 1,
    "tables": 1,
    "road": 2,
    "comms": 2,
    "traffic": 3,
    "compute": 3,
    "control": 4,
    "world": 5,
    "result": 5,
    "v2x_model": 5,
    "slow_loop": 5,
    "fast_loop": 5,
    "warmup": 5,
    "equilibrium": 5,
    "cli_progress": 7,
    "cli_parser": 7,
    "cli_studies": 7,
    "experiment": 6,
    "report": 6,
    "cli": 7,
    "__main__": 7,
}

# Imports forbidden whatever the ranks say: package -> targets (a module and everything
# below it). traffic and compute meet only in world.py; so do control and compute.
# report reads results on disk and never imports code that runs a simulation; metrics
# knows numbers and names, never domain objects.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "traffic": ("v2x_sim.compute",),
    "compute": ("v2x_sim.traffic", "v2x_sim.control"),
    "control": ("v2x_sim.compute",),
    "report": (
        "v2x_sim.world",
        "v2x_sim.experiment.run",
        "v2x_sim.traffic",
        "v2x_sim.road",
        "v2x_sim.compute",
        "v2x_sim.comms",
        "v2x_sim.control",
    ),
    "tables": (
        "v2x_sim.scenario",
        "v2x_sim.metrics",
    ),
    "metrics": (
        "v2x_sim.road",
        "v2x_sim.traffic",
        "v2x_sim.comms",
        "v2x_sim.compute",
        "v2x_sim.control",
        "v2x_sim.scenario",
    ),
}

MAX_MODULE_LINES = 500

# Calls that use numpy's global random state.
GLOBAL_NUMPY_RANDOM = frozenset(
    f"numpy.random.{name}"
    for name in (
        "seed", "rand", "randn", "randint", "random", "choice", "normal", "uniform",
        "poisson", "exponential",
    )
)
# Generators are made in one place only; components receive theirs.
GENERATOR_FACTORIES = frozenset({"numpy.random.default_rng", "numpy.random.Generator"})
STREAMS_MODULE = "v2x_sim._core.streams"

# Only the command line prints or exits.
PRINT_OR_EXIT = frozenset(
    {"print", "exit", "quit", "sys.exit", "os._exit", "SystemExit", "builtins.print"}
)
CLI_MODULES = frozenset({"v2x_sim.cli", "v2x_sim.cli_studies", "v2x_sim.__main__"})


@dataclass(frozen=True)
class Module:
    """One parsed module of the package."""

    name: str  # dotted, e.g. "v2x_sim.road.io"; a package's __init__ is the package name
    path: Path
    is_package: bool
    tree: ast.Module
    n_lines: int

    @property
    def relpath(self) -> str:
        return self.path.relative_to(PACKAGE_DIR.parent).as_posix()

    @property
    def component(self) -> str | None:
        """The name right after ``v2x_sim.`` (None for the package's own __init__)."""
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else None

    @property
    def is_top_level(self) -> bool:
        """A module directly in v2x_sim/ (world.py, cli.py, ...), not a subpackage."""
        return self.name.count(".") == 1 and not self.is_package


@cache
def modules() -> dict[str, Module]:
    """Every module of the package by dotted name, parsed once."""
    found: dict[str, Module] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        text = path.read_text(encoding="utf-8")
        found[".".join(parts)] = Module(
            name=".".join(parts),
            path=path,
            is_package=is_package,
            tree=ast.parse(text, filename=str(path)),
            n_lines=len(text.splitlines()),
        )
    return found


def _is_inside(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def _base_package(module: Module, level: int) -> str:
    """The package a relative import of ``level`` dots starts from."""
    parts = module.name.split(".")
    if not module.is_package:
        parts.pop()
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts)


@dataclass(frozen=True)
class Import:
    """One imported v2x_sim module (or root-level name), with where it was written."""

    target: str
    line: int


def _root_names() -> tuple[dict[str, str], frozenset[str]]:
    """Names of v2x_sim/__init__.py: re-exported (name -> origin module) and own ones."""
    root = modules().get(PACKAGE)
    reexports: dict[str, str] = {}
    own: set[str] = set()
    if root is None:
        return reexports, frozenset()
    # the public API may import its names lazily: `if TYPE_CHECKING:` imports count
    body = [inner for node in root.tree.body
            for inner in (node.body if isinstance(node, ast.If) else [node])]
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                reexports[alias.asname or alias.name] = node.module
        elif isinstance(node, ast.Assign):
            own.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            own.add(node.target.id)
    return reexports, frozenset(own)


def imports_of(module: Module) -> list[Import]:
    """Every import of a v2x_sim module anywhere in ``module``, relative ones resolved.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module.
    Names taken from the root package resolve to the module they are re-exported from;
    names the root defines itself (``__version__``) stay ``v2x_sim.<name>``.
    """
    known = modules()
    reexports, own = _root_names()
    found: list[Import] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _base_package(module, node.level)
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                if candidate in known:
                    found.append(Import(candidate, node.lineno))
                elif source == PACKAGE and alias.name in reexports:
                    found.append(Import(reexports[alias.name], node.lineno))
                elif source == PACKAGE and alias.name in own:
                    found.append(Import(candidate, node.lineno))
                else:
                    found.append(Import(source, node.lineno))
    return [imp for imp in found if _is_inside(imp.target, PACKAGE)]


def _rank_of(target: str) -> tuple[str, int | None]:
    """(label, rank) of an import target; rank None if its package is not in LAYERS."""
    parts = target.split(".")
    if target == PACKAGE:
        # The whole public API: as high as the highest layer it re-exports.
        ranks = [_rank_of(origin)[1] for origin in _root_names()[0].values()]
        known_ranks = [r for r in ranks if r is not None]
        return "public API", max(known_ranks, default=0)
    if parts[1] in _root_names()[1]:
        return "root metadata", 0  # e.g. v2x_sim.__version__: a constant, no code
    return parts[1], LAYERS.get(parts[1])


def test_imports_point_down_the_layers() -> None:
    """A module imports only from its own package or a lower layer, plus the extra bans.

    Layers: _core < scenario, metrics < road, comms < traffic, compute < control <
    world (world.py, result.py) < experiment, report < cli (cli.py, __main__.py).
    traffic and compute never import each other, nor control and compute; report never
    imports v2x_sim.world, v2x_sim.experiment.run or traffic/road/compute/comms/control;
    metrics imports nothing from road/traffic/comms/compute/control/scenario. Imports
    inside functions and ``if TYPE_CHECKING:`` count too. v2x_sim/__init__.py (the
    public API) is exempt.
    """
    problems: list[str] = []
    for module in modules().values():
        component = module.component
        if component is None:
            continue  # v2x_sim/__init__.py: the public API gathers every layer
        if component not in LAYERS:
            problems.append(f"{module.name}: package {component!r} has no layer in LAYERS")
            continue
        rank = LAYERS[component]
        for imp in imports_of(module):
            label, target_rank = _rank_of(imp.target)
            where = f"{module.relpath}:{imp.line}"
            if target_rank is None:
                problems.append(f"{module.name} imports {imp.target}: package {label!r} "
                                f"has no layer in LAYERS ({where})")
                continue
            target_module = modules().get(imp.target)
            same_unit = label == component or (
                module.is_top_level
                and target_module is not None
                and target_module.is_top_level
                and target_rank == rank
            )
            reasons = [f"{component} must never import {banned}"
                       for banned in FORBIDDEN.get(component, ())
                       if _is_inside(imp.target, banned)]
            if not same_unit and target_rank >= rank:
                reasons.insert(0, "not a lower layer")
            if reasons:
                problems.append(f"{module.name} imports {imp.target} "
                                f"(rank {rank} -> rank {target_rank}: "
                                f"{'; '.join(reasons)}) [{where}]")
    assert not problems, "import direction violations:\n  " + "\n  ".join(sorted(problems))


def test_modules_stay_short() -> None:
    """No module file in v2x_sim exceeds 500 lines; past that, split it by concept."""
    offenders = [
        f"{module.relpath}: {module.n_lines} lines"
        for module in modules().values()
        if module.n_lines > MAX_MODULE_LINES
    ]
    assert not offenders, (
        f"modules over {MAX_MODULE_LINES} lines:\n  " + "\n  ".join(sorted(offenders))
    )


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name it stands for, from every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    """``np.random.seed`` -> "np.random.seed"; None for anything but names and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def called_names(module: Module) -> list[tuple[str, int]]:
    """(fully qualified name, line) of every call whose callee is a plain dotted name.

    Import aliases are resolved (``np.random.rand`` -> ``numpy.random.rand``,
    ``from sys import exit`` -> ``sys.exit``). A bare ``raise SystemExit`` counts as a
    call of ``SystemExit``.
    """
    aliases = _aliases(module.tree)
    calls: list[tuple[str, int]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            callee = node.func
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name):
            callee = node.exc
        else:
            continue
        dotted = _dotted(callee)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        resolved = aliases.get(head, head)
        calls.append((f"{resolved}.{rest}" if rest else resolved, node.lineno))
    return calls


def test_no_global_random_state() -> None:
    """Randomness comes from named streams, never from global state.

    No ``import random`` / ``from random import``; no numpy global-state calls
    (``np.random.seed``, ``rand``, ``randn``, ``randint``, ``random``, ``choice``,
    ``normal``, ``uniform``, ``poisson``, ``exponential``); ``np.random.default_rng`` and
    ``np.random.Generator`` are called only in v2x_sim/_core/streams.py.
    """
    problems: list[str] = []
    for module in modules().values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                bad = [a.name for a in node.names if _is_inside(a.name, "random")]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                bad = [node.module] if node.module and _is_inside(node.module, "random") else []
            else:
                continue
            problems.extend(f"{module.relpath}:{node.lineno}: imports the stdlib "
                            f"global-state module {name!r}" for name in bad)
        for name, line in called_names(module):
            if name in GLOBAL_NUMPY_RANDOM:
                problems.append(f"{module.relpath}:{line}: calls {name} (numpy global state)")
            elif name in GENERATOR_FACTORIES and module.name != STREAMS_MODULE:
                problems.append(f"{module.relpath}:{line}: calls {name} outside "
                                f"{STREAMS_MODULE} (components receive their generator)")
    assert not problems, "randomness violations:\n  " + "\n  ".join(sorted(problems))


def test_library_does_not_print_or_exit() -> None:
    """Only the command line (cli.py, cli_studies.py, __main__.py) prints or exits.

    The library reports through logging and its own exceptions; output and exit codes
    belong to the command line.
    """
    problems = [
        f"{module.relpath}:{line}: calls {name}"
        for module in modules().values()
        if module.name not in CLI_MODULES
        for name, line in called_names(module)
        if name in PRINT_OR_EXIT
    ]
    assert not problems, (
        "library modules that print or exit:\n  " + "\n  ".join(sorted(problems))
    )


def _defines_all(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return True
        if (
            isinstance(node, (ast.AnnAssign, ast.AugAssign))
            and isinstance(node.target, ast.Name)
            and node.target.id == "__all__"
        ):
            return True
    return False


def test_every_package_declares_its_public_api() -> None:
    """Every package (v2x_sim/__init__.py and each subpackage's __init__.py) sets __all__."""
    packages = [module for module in modules().values() if module.is_package]
    assert any(module.name == PACKAGE for module in packages)
    missing = [module.relpath for module in packages if not _defines_all(module.tree)]
    assert not missing, "packages without __all__:\n  " + "\n  ".join(sorted(missing))
