"""Write a file under a temporary name and rename it, so no half file ever looks whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from v2x_sim._core.faults import fault_point


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp, 0o644)  # mkstemp makes 0600; results and data are meant to be shared
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fault_point(f"write:{path.name}")
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, see `write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))
