"""A small mutation-testing run over the core modules, by hand (never in CI).

For each core module, the script lists every place where one small change makes a
plausible bug (an arithmetic operator swapped, a comparison loosened or flipped, a
number changed, ``and``/``or`` swapped, a ``not`` dropped, ``True``/``False`` swapped),
draws a sample of them with a fixed seed, and for each: writes the mutated module into a
scratch copy of the repository, runs the tests that guard that module there (``-x``,
with a timeout) and records whether they failed (killed) or passed (survived). The
repository itself is never modified.

    python benchmarks/mutate.py                    # every module, 12 mutants each
    python benchmarks/mutate.py --per-module 40 --only compute/queueing.py
    python benchmarks/mutate.py --list             # the sites, without running

Results go to ``benchmarks/mutants.tsv`` (one row per mutant) and a summary is printed.
A timeout counts as killed (the mutant made the tests hang). Survivors need a look:
either a test is missing, or the change cannot be observed (an equivalent mutant).
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# module (under v2x_sim/) -> the tests that guard it (pytest arguments)
TARGETS: dict[str, list[str]] = {
    "road/fundamental_diagram.py": ["tests/test_hand_values.py", "tests/test_traffic_theory.py"],
    "road/signals.py": ["tests/test_hand_values.py", "tests/test_invariants.py"],
    "road/routing.py": ["tests/test_policies.py", "tests/test_traffic_theory.py"],
    "traffic/movement.py": ["tests/test_traffic_theory.py", "tests/test_hand_values.py",
                            "tests/test_random_worlds.py"],
    "traffic/demand.py": ["tests/test_invariants.py", "tests/test_hand_values.py"],
    "comms/channels.py": ["tests/test_channels.py", "tests/test_hand_values.py"],
    "comms/flows.py": ["tests/test_message_volumes.py", "tests/test_hand_values.py"],
    "compute/queueing.py": ["tests/test_queue_kernel_oracle.py",
                            "tests/test_queue_theory.py::test_fifo_departures_equals_lindley_loop",
                            "tests/test_queue_theory.py::test_multi_server_fifo_equals_reference"],
    "compute/servers.py": ["tests/test_queue_kernel_oracle.py", "tests/test_queue_theory.py",
                           "-k", "not edge_queue"],
    "compute/cloud.py": ["tests/test_hand_values.py"],
    "compute/service.py": ["tests/test_hand_values.py", "tests/test_queue_theory.py",
                           "-k", "hand or oracles or md1 or lognormal"],
    "control/policies/dynamic_shortest.py": ["tests/test_policies.py"],
    "control/policies/probabilistic.py": ["tests/test_policies.py", "-k",
                                          "probabilistic or logit or refused or triggers"],
    "road/k_paths.py": ["tests/test_k_paths.py"],
    "control/policies/predictive.py": ["tests/test_policies.py"],
    "control/policies/system_optimal.py": ["tests/test_policies.py"],
    "control/policies/incident_detour.py": ["tests/test_policies.py", "-k",
                                            "detour or remainder or refused or triggers"],
    "control/loop.py": ["tests/test_policies.py", "tests/test_rerouting.py", "-k",
                        "compliance or zero or belief or custom"],
    "metrics/histogram.py": ["tests/test_histogram.py"],
    "metrics/trip_stats.py": ["tests/test_hand_values.py"],
    "metrics/latency.py": ["tests/test_message_volumes.py", "tests/test_hand_values.py",
                           "tests/test_v2x_loop.py", "-k",
                           "volumes or delivered or sent or message or latency_book"],
}

SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
            ast.FloorDiv: ast.Mult, ast.Mod: ast.Mult, ast.Pow: ast.Mult}
SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
            ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass(frozen=True)
class Site:
    """One mutation: node number ``index`` (in ``ast.walk`` order) changed as ``what``."""

    module: str
    index: int
    line: int
    what: str


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                     ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _annotations(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        parts = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parts = [a.annotation for a in (*node.args.args, *node.args.kwonlyargs)]
            parts.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            parts = [node.annotation]
        for part in parts:
            if part is not None:
                ids.update(id(n) for n in ast.walk(part))
    return ids


def sites(module: str) -> list[Site]:
    """Every mutation site of a module."""
    tree = ast.parse((REPO / "v2x_sim" / module).read_text(encoding="utf-8"))
    skip = _docstrings(tree) | _annotations(tree)
    out = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.BinOp) and type(node.op) in SWAP_BIN:
            new = SWAP_BIN[type(node.op)]
            out.append(Site(module, index, line, f"{type(node.op).__name__} -> {new.__name__}"))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in SWAP_CMP:
            new = SWAP_CMP[type(node.ops[0])]
            out.append(Site(module, index, line, f"{type(node.ops[0]).__name__} -> "
                                                 f"{new.__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append(Site(module, index, line, "and <-> or"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append(Site(module, index, line, "drop not"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            out.append(Site(module, index, line, f"{node.value!r} -> {_bump(node.value)!r}"))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            out.append(Site(module, index, line, f"{node.value} -> {not node.value}"))
    return out


def _bump(value: float) -> float:
    if isinstance(value, int):
        return value + 1
    return 1.0 if value == 0.0 else value * 2.0


def mutated_source(site: Site) -> str:
    """The module's source with the one change of ``site``."""
    tree = ast.parse((REPO / "v2x_sim" / site.module).read_text(encoding="utf-8"))
    node = list(ast.walk(tree))[site.index]
    if isinstance(node, ast.BinOp):
        node.op = SWAP_BIN[type(node.op)]()
    elif isinstance(node, ast.Compare):
        node.ops[0] = SWAP_CMP[type(node.ops[0])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        node.op = ast.UAdd()  # +bool(x) == x when used as a truth value
        node.operand = ast.Call(ast.Name("bool", ast.Load()), [node.operand], [])
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if type(node.value) is bool else _bump(node.value)
    return ast.unparse(ast.fix_missing_locations(tree))


def scratch_copy() -> Path:
    """The tracked files of the repository in a temporary folder (no caches, no .git)."""
    root = Path(tempfile.mkdtemp(prefix="v2x-mutants-"))
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        src, dst = REPO / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        elif src.is_file():
            shutil.copy2(src, dst)
    return root


def run_tests(root: Path, args: list[str], timeout_s: float) -> str:
    """'killed', 'survived' or 'timeout' for the tests ``args`` run in ``root``."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", NUMBA_CACHE_DIR=str(root / ".numba"))
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p",
                               "no:cacheprovider", *args], cwd=root, env=env,
                              capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if done.returncode == 0 else "killed"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=12)
    parser.add_argument("--only", nargs="*", default=None, help="modules under v2x_sim/")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not first check that the unmutated tests pass")
    parser.add_argument("--retry", type=Path, default=None,
                        help="re-run the survivors of an earlier mutants.tsv (e.g. after "
                             "adding tests)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "mutants.tsv")
    args = parser.parse_args(argv)
    modules = args.only or list(TARGETS)
    rng = random.Random(args.seed)
    plan = []
    if args.retry is not None:
        rows = [line.split("\t") for line in args.retry.read_text().splitlines()[1:]]
        wanted = {(m, int(ln), w) for m, ln, w, r, _ in rows if r == "survived"}
        modules = sorted({m for m, _, _ in wanted})
        plan = [s for m in modules for s in sites(m) if (s.module, s.line, s.what) in wanted]
        print(f"retrying {len(plan)} survivors")
    for module in modules if args.retry is None else []:
        every = sites(module)
        chosen = sorted(rng.sample(every, min(args.per_module, len(every))),
                        key=lambda s: s.index)
        plan += chosen
        print(f"{module}: {len(every)} sites, {len(chosen)} sampled")
    if args.list:
        for site in plan:
            print(f"{site.module}:{site.line}: {site.what}")
        return 0
    root = scratch_copy()
    baseline = ({} if args.skip_baseline else
                {m: run_tests(root, TARGETS[m], args.timeout) for m in modules})
    broken = [m for m, r in baseline.items() if r != "survived"]
    if broken:
        print(f"the unmutated tests fail for {broken}: fix them first")
        return 1
    rows = []
    with args.out.open("w", encoding="utf-8") as log:
        log.write("module\tline\tmutation\tresult\tseconds\n")
        for site in plan:
            path = root / "v2x_sim" / site.module
            original = path.read_text(encoding="utf-8")
            path.write_text(mutated_source(site), encoding="utf-8")
            started = time.perf_counter()
            try:
                result = run_tests(root, TARGETS[site.module], args.timeout)
            finally:
                path.write_text(original, encoding="utf-8")
            seconds = time.perf_counter() - started
            rows.append((site, result))
            log.write(f"{site.module}\t{site.line}\t{site.what}\t{result}\t{seconds:.1f}\n")
            log.flush()
            print(f"{result:8} {site.module}:{site.line} {site.what} ({seconds:.0f} s)",
                  flush=True)
    killed = sum(r != "survived" for _, r in rows)
    print(f"\n{killed} of {len(rows)} mutants killed ({killed / max(len(rows), 1):.0%})")
    for module in modules:
        mine = [r for s, r in rows if s.module == module]
        if mine:
            print(f"  {module:40} {sum(r != 'survived' for r in mine):3} / {len(mine)}")
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
