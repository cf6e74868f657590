"""Compiled kernels are recompiled when anything they were compiled from changes.

numba alone checks a cached kernel against its own file; `_core.kernel_stamp` extends
the check to the modules of the package the kernel imports (what it calls, the
constants it reads). A stale kernel would give silently wrong results after an edit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from v2x_sim._core import kernel_stamp
from v2x_sim._core.kernel_stamp import sources, stamp
from v2x_sim.compute import servers


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def _package(tmp_path: Path) -> Path:
    """A package ``kpkg``: ``a`` imports ``b`` three ways, ``c`` is imported by nobody."""
    pkg = tmp_path / "kpkg"
    pkg.mkdir()
    _write(pkg / "__init__.py", "")
    _write(pkg / "a.py", """
        import numpy as np
        from kpkg.b import f
        from kpkg import (
            d,  # a module named in a parenthesised list
        )
        import kpkg.e as e_mod
        from v2x_sim._core.jit import njit

        @njit(cache=True)
        def kernel(x):
            return f(x)
    """)
    _write(pkg / "b.py", """
        from v2x_sim._core.jit import njit

        @njit(cache=True)
        def f(x):
            return x + 1
    """)
    for name in ("c", "d", "e"):
        _write(pkg / f"{name}.py", "VALUE = 1\n")
    return pkg


def _edit(path: Path, old: str, new: str) -> None:
    """Replace text and move the file's time on (a same-size edit must count too)."""
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    later = time.time_ns() + 10_000_000
    os.utime(path, ns=(later, later))


def test_a_kernel_module_is_stamped_with_what_it_imports() -> None:
    names = {p.name for p in sources(Path(servers.__file__))}
    # servers calls streams' and queueing's kernels; queueing reads the histogram's bins
    assert {"servers.py", "streams.py", "queueing.py", "histogram.py"} <= names
    assert not names & {"cli.py", "world.py"}


def test_imports_in_every_form_are_followed_and_nothing_else(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    # ``from kpkg import d`` also takes the package's __init__ (it may define names)
    assert [p.name for p in sources(pkg / "a.py")] == ["__init__.py", "a.py", "b.py", "d.py",
                                                       "e.py"]
    assert [p.name for p in sources(pkg / "c.py")] == ["c.py"]


def test_the_stamp_changes_with_an_imported_module_only(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    before = stamp(pkg / "a.py")
    _edit(pkg / "c.py", "VALUE = 1", "VALUE = 2")
    assert stamp(pkg / "a.py") == before
    _edit(pkg / "e.py", "VALUE = 1", "VALUE = 3")
    after_e = stamp(pkg / "a.py")
    assert after_e != before
    _edit(pkg / "b.py", "x + 1", "x + 2")
    assert stamp(pkg / "a.py") not in (before, after_e)


def test_a_module_outside_any_package_is_stamped_alone(tmp_path: Path) -> None:
    _write(tmp_path / "lone.py", "import os\n")
    assert kernel_stamp.package_root(tmp_path / "lone.py") == (tmp_path, "")
    assert sources(tmp_path / "lone.py") == ((tmp_path / "lone.py").resolve(),)


def test_editing_a_callee_in_another_module_recompiles_the_caller(tmp_path: Path) -> None:
    """End to end with numba's on-disk cache: no stale code after an edit, cache kept otherwise."""
    pkg = _package(tmp_path)
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from v2x_sim._core.jit import compile_notices
        said = []
        with compile_notices(said.append):
            from kpkg.a import kernel
            print(kernel(1), len(said))
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> tuple[int, int]:
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env,
                              capture_output=True, text=True, timeout=300, check=True)
        value, compiled = proc.stdout.split()
        return int(value), int(compiled)

    assert run() == (2, 1)  # compiled once (the callee inside the caller's compilation)
    assert run() == (2, 0)  # loaded from the cache
    _edit(pkg / "b.py", "x + 1", "x + 5")
    assert run() == (6, 1)  # numba alone would load the caller's old code: 2
    assert run() == (6, 0)
