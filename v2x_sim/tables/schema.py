"""What the columns of the result tables are: text, flags, integers with "none", numbers.

One place says how each known column is typed, so that writing a table (CSV or
Parquet), reading it back (`v2x_sim.load_results`, the report) and converting it to a
DataFrame agree. Conventions, the same in every file:

* ids of nodes, links and edge nodes are text (``"edge-0"``, ``"-12345#0"``);
* a flag is ``1``/``0`` in CSV, a boolean in Parquet and in memory;
* "none" is an empty cell in CSV, null in Parquet and JSON, ``<NA>`` in a DataFrame.
  Numpy integers have no missing value, so in the numpy tables of a `RunResult` an
  integer column that may hold "none" (`NULLABLE_INT`) uses ``-1`` for it; floats use
  NaN.

Columns not listed are typed by their cells when read: integers if every cell is one,
numbers if every cell is a number or empty, text otherwise.
"""

from __future__ import annotations

SCHEMA_VERSION = 2
"""Version of the results folder's layout (files, columns, ``summary.json`` keys).

Raised when a file, column or key is renamed, removed or changes meaning (the
CHANGELOG then has a migration line); additions keep it. 1 is the layout before
``summary.json`` carried the number.
"""

TEXT: dict[str, frozenset[str]] = {
    "trips": frozenset({"class", "vehicle_class", "origin", "destination"}),
    "links": frozenset({"link", "from", "to"}),
    "network": frozenset({"link", "from", "to", "road_class", "shape"}),
    "events": frozenset({"kind", "link", "detail"}),
    "latency": frozenset({"kind", "hop"}),
    "latency_hist": frozenset({"kind", "hop"}),
    "edges": frozenset({"node"}),
    "rsus": frozenset({"edge_node"}),
    "devices": frozenset({"kind", "edge_node"}),
    "signals": frozenset({"node", "link", "to_link"}),
    "advice": frozenset({"outcome"}),
    "kerbside": frozenset({"vehicle_class", "link"}),
    "stops": frozenset({"line", "stop"}),
    "priority": frozenset({"outcome", "link"}),
    "hails": frozenset({"area", "link", "outcome"}),
    "approaches": frozenset({"node", "link"}),
}
"""Columns holding text (ids and names), whatever their cells look like."""

BOOL: dict[str, frozenset[str]] = {
    "trips": frozenset({"connected"}),
    "warnings": frozenset({"delivered", "in_time"}),
}
"""Columns holding flags."""

NULLABLE_INT: dict[str, frozenset[str]] = {
    "events": frozenset({"vehicle"}),
    "warnings": frozenset({"rsu"}),
    "devices": frozenset({"rsu", "edge"}),
    "rsus": frozenset({"edge"}),
}
"""Integer columns that may hold "none" (``-1`` in numpy tables, empty in files)."""

EXACT: frozenset[str] = frozenset({"network", "latency_hist"})
"""Tables whose floats CSV keeps at full precision (read back as input; bin edges)."""

RUN_TABLES = ("trips", "links", "events", "network", "signals", "approaches", "latency",
              "latency_hist", "edges", "rsus", "devices", "warnings", "advice", "kerbside",
              "stops", "priority", "hails")
"""Every table a run's folder may hold, by file stem."""

STUDY_TEXT = frozenset({"metric", "arm"})
"""Text columns of the study tables (``comparison.csv``, ...)."""

ALWAYS_TEXT = frozenset({"class", "vehicle_class", "kind", "hop", "node", "detail",
                         "road_class", "outcome", "edge_node"})
"""Names that hold text in any table (files renamed by hand still read right)."""


def text_columns(stem: str) -> frozenset[str]:
    """Text columns of the table ``stem`` (study tables included)."""
    return TEXT.get(stem, frozenset()) | STUDY_TEXT | ALWAYS_TEXT


def nullable_columns(stem: str) -> frozenset[str]:
    """Integer columns of ``stem`` that may hold "none"."""
    return NULLABLE_INT.get(stem, frozenset())


def bool_columns(stem: str) -> frozenset[str]:
    """Flag columns of ``stem``."""
    return BOOL.get(stem, frozenset())


def edge_node_id(index: int) -> str:
    """The id of edge node ``index`` as every file names it (``edge-0``); "" for none."""
    return f"edge-{index}" if index >= 0 else ""
