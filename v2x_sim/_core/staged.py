"""All-or-nothing folders: write the new contents beside the old, then swap them in.

A results folder is many files; writing each atomically still leaves, after a crash
between two of them, a folder mixing new and old files. Here the new contents go into a
hidden sibling (``.NAME.new-<pid>-<random>``), and only when it is complete does it
take the folder's place:

* no folder yet: one ``rename`` (atomic);
* on Linux: ``renameat2(RENAME_EXCHANGE)`` swaps the two folders in one atomic step;
  the sibling then holds the previous contents and is deleted;
* elsewhere (or on a file system without it): the folder is renamed aside
  (``.NAME.old-<pid>-<random>``), the new one renamed in, the old one deleted.

Whenever the process dies, the folder holds the old contents or the new, never a mix.
The one gap is the fallback's instant between its two renames, when the folder is
briefly absent (its old contents intact beside it): the next write to the same folder
(`recover`) puts them back, and deletes anything else a dead writer left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from v2x_sim._core.faults import fault_point

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}
_renameat2: Any = None
_looked_up = False
use_exchange = True
"""Swap with ``renameat2`` where the system has it (tests turn it off for the fallback)."""


def _lookup_renameat2() -> Any:
    global _renameat2, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            function = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError, TypeError):
            return None
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                             ctypes.c_uint]
        function.restype = ctypes.c_int
        _renameat2 = function
    return _renameat2


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the system cannot."""
    function = _lookup_renameat2() if use_exchange else None
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(b))


def _prefix(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _leftovers(target: Path) -> list[tuple[str, Path]]:
    """(kind, path) of siblings a dead writer left: its stages and set-aside folders."""
    found = []
    prefix = f".{target.name}."
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            if not entry.name.startswith(prefix):
                continue
            kind, _, rest = entry.name[len(prefix):].partition("-")
            pid = rest.partition("-")[0]
            if kind in ("new", "old") and pid.isdigit() and not _alive(int(pid)):
                found.append((kind, entry))
    return found


def recover(target: Path) -> None:
    """Tidy after a writer of ``target`` that died: restore a set-aside folder, drop stages.

    A set-aside ``old`` folder exists without ``target`` only if the writer died between
    the fallback's two renames; those are the previous results and go back in place.
    """
    leftovers = _leftovers(target)
    olds = sorted((p for kind, p in leftovers if kind == "old"),
                  key=lambda p: p.stat().st_mtime_ns, reverse=True)
    if olds and not os.path.lexists(target):
        os.rename(olds[0], target)
    for _, path in leftovers:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def _swap(stage: Path, target: Path) -> None:
    fault_point("swap:before")
    if not os.path.lexists(target):
        os.rename(stage, target)
        fault_point("swap:renamed")
        return
    if exchange(stage, target):
        fault_point("swap:exchanged")
        shutil.rmtree(stage, ignore_errors=True)  # now the previous contents
        return
    old = target.parent / f"{_prefix(target, 'old')}{secrets.token_hex(4)}"
    os.rename(target, old)
    fault_point("swap:set-aside")
    try:
        os.rename(stage, target)
    except BaseException:
        os.rename(old, target)
        raise
    fault_point("swap:renamed")
    shutil.rmtree(old, ignore_errors=True)


def carry_over(source: Path, stage: Path, relative: Iterable[str]) -> None:
    """Put files (or whole sub-folders) of ``source`` into ``stage``, unchanged.

    Hard links where the file system allows (instant, no space), copies elsewhere; the
    originals stay in place until the swap, so a crash loses nothing.
    """
    for name in relative:
        src = source / name
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for file in files:
            dst = stage / file.relative_to(source)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(file, dst)
            except OSError:
                shutil.copy2(file, dst)


@contextlib.contextmanager
def staged_folder(target: Path, *, carry: Callable[[Path], Iterable[str]] | None = None
                  ) -> Iterator[Path]:
    """Yield an empty sibling folder to write ``target``'s new contents into.

    On a normal exit it replaces ``target`` (see the module docstring); on an
    exception it is deleted and ``target`` stays as it was.

    Args:
        target: the folder to (re)write; its parent is created if missing.
        carry: given the current ``target``, the relative paths to keep in the new
            contents (a study keeps its finished runs).
    """
    target = Path(os.path.realpath(target))  # a symlinked folder: swap the real one
    recover(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=_prefix(target, "new"), dir=target.parent))
    try:
        os.chmod(stage, 0o755)  # mkdtemp makes 0700; results are meant to be shared
        fault_point("stage:created")
        if carry is not None and target.is_dir():
            carry_over(target, stage, carry(target))
        yield stage
        _swap(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
