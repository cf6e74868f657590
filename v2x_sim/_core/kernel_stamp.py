"""The source stamp of a compiled kernel: its own module and every module it imports.

numba keeps compiled kernels on disk and reuses one while the *kernel's own source
file* is unchanged (a hash of that file). A kernel also compiles in what it calls and
the constants it reads from other modules (`compute/servers.py` calls
`compute/queueing.py`, which reads the histogram's bins from `metrics/histogram.py`);
edit one of those and numba would keep running the old code. This stamp hashes the
kernel's file together with every module of the same package it imports at module level,
directly or through others (only those can hold what a kernel references: a kernel
reads globals, and a module's globals come from its module-level imports), so an edit
anywhere in that closure makes numba compile afresh. `_core.jit` puts it in the cache
of every kernel decorated with its ``njit``.

Installed releases are not affected either way (an install rewrites every file); this
is for developers editing kernels, where a stale kernel gives silently wrong results.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

_FROM = re.compile(rb"^from[ \t]+([A-Za-z_][\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)",
                   re.M)
_IMPORT = re.compile(rb"^import[ \t]+([^\n#]+)", re.M)


def package_root(path: Path) -> tuple[Path, str]:
    """(folder that holds the top-level package, its name) for a module file.

    A module outside any package (no ``__init__.py`` beside it) is its own world: the
    folder is its own and the name empty, so only the file itself is stamped.
    """
    folder = path.parent
    if not (folder / "__init__.py").exists():
        return folder, ""
    while (folder.parent / "__init__.py").exists():
        folder = folder.parent
    return folder.parent, folder.name


def _key(path: Path) -> tuple[Path, int, int]:
    """A file's identity for the caches below: re-read when its time or size changes."""
    st = path.stat()
    return path, st.st_mtime_ns, st.st_size


@cache
def _content(key: tuple[Path, int, int]) -> bytes:
    return key[0].read_bytes()


@cache
def _imports_of(key: tuple[Path, int, int], package: str) -> tuple[str, ...]:
    return tuple(_imported(_content(key), package))


@cache
def _module_file(base: Path, module: str) -> Path | None:
    """The file of dotted ``module`` under ``base`` (a module or a package's __init__)."""
    stem = base.joinpath(*module.split("."))
    for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(text: bytes, package: str) -> list[str]:
    """Dotted names of the modules of ``package`` that ``text`` imports at module level.

    ``from p.m import x`` counts ``p.m`` and, when ``x`` is itself a module, ``p.m.x``
    (the caller keeps those that are files). Relative imports are not followed (the
    package uses none).
    """
    names: list[str] = []
    prefix = package + "."
    for module, what in _FROM.findall(text):
        mod = module.decode()
        if mod != package and not mod.startswith(prefix):
            continue
        names.append(mod)
        for item in what.decode().strip("()").replace("\n", " ").split(","):
            word = item.split(" as ")[0].strip()
            if word.isidentifier():
                names.append(f"{mod}.{word}")
    for line in _IMPORT.findall(text):
        for item in line.decode().split(","):
            mod = item.split(" as ")[0].strip()
            if mod == package or mod.startswith(prefix):
                names.append(mod)
    return names


def sources(path: Path) -> tuple[Path, ...]:
    """The kernel module ``path`` and the modules of its package it imports, transitively.

    Sorted, so the stamp does not depend on the order imports were found in. Each
    file is read and parsed once per process while its time and size stay the same,
    and a closure is walked again only when one of its files changed (otherwise a
    kernel's stamp costs one ``stat`` per file of its closure).
    """
    path = path.resolve()
    known = _closures.get(path)
    if known is not None and all(_key(key[0]) == key for key in known):
        return tuple(key[0] for key in known)
    base, package = package_root(path)
    seen = {path}
    todo = [path]
    while todo and package:
        for module in _imports_of(_key(todo.pop()), package):
            found = _module_file(base, module)
            if found is not None and found not in seen:
                seen.add(found)
                todo.append(found)
    closure = tuple(sorted(seen))
    _closures[path] = tuple(_key(f) for f in closure)
    return closure


_closures: dict[Path, tuple[tuple[Path, int, int], ...]] = {}
"""Each kernel file's closure as found, with its files' keys (see `sources`)."""


def stamp(path: Path) -> bytes:
    """SHA-256 over the names and contents of `sources` (changes with any of them)."""
    base, _ = package_root(path.resolve())
    return _digest(base, tuple(_key(source) for source in sources(path)))


@cache
def _digest(base: Path, keys: tuple[tuple[Path, int, int], ...]) -> bytes:
    digest = hashlib.sha256()
    for key in keys:
        digest.update(str(key[0].relative_to(base)).encode() + b"\0")
        digest.update(_content(key) + b"\0")
    return digest.digest()
