"""Streaming XML: the children of the root element one at a time, memory kept flat.

SUMO networks and OSM extracts of a city run to hundreds of megabytes; each top-level
element (an edge with its lanes, a way with its tags) is handed out complete and then
dropped, so memory holds one element, not the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from v2x_sim._core.errors import InputFileError

_CHUNK = 1 << 20


def xml_children(handle: IO[bytes], path: Path, root: str, what: str) -> Iterator[Any]:
    """Every complete child element of the root ``<root>`` element, in document order.

    Raises:
        InputFileError: not well-formed XML (naming the line), a different root
            element, or an empty file.
    """
    parser: Any = ElementTree.XMLPullParser(events=("start", "end"))
    depth = 0
    top: Any = None
    try:
        while chunk := handle.read(_CHUNK):
            parser.feed(chunk)
            for event, elem in parser.read_events():
                if event == "start":
                    depth += 1
                    if depth == 1:
                        if elem.tag != root:
                            raise InputFileError(path, f"root element <{elem.tag}>; expected "
                                                       f"<{root}> ({what})", line=1)
                        top = elem
                    continue
                depth -= 1
                if depth == 1:
                    yield elem
                    assert top is not None
                    top.clear()
        parser.close()
    except ElementTree.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputFileError(path, f"not well-formed XML: {exc.msg}", line=line) from None
    except (OSError, EOFError) as exc:
        raise InputFileError(path, f"cannot read: {exc}") from None
    if top is None:
        raise InputFileError(path, f"empty file; expected {what}")
