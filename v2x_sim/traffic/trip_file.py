"""Explicit trips: read a trip list CSV file or scenario entries into column arrays.

The file is UTF-8 (a byte-order mark is allowed), comma separated, and starts with a
header row naming the columns; columns may come in any order, unknown or repeated columns
are an error, and blank lines are ignored. Rows need not be sorted by departure time and
are kept in file order. A file with only a header holds no trips.

===========  ========  ==========================================================
column       type      meaning
===========  ========  ==========================================================
depart_s     number    departure time, seconds from the start, finite and >= 0
origin       text      id of the origin node (must be in the network)
destination  text      id of the destination node, different from ``origin``
class        text      vehicle class: ``car``, ``truck``, ``shuttle`` or ``delivery``
                       (the column may be named ``vehicle_class`` instead, as in
                       the scenario's ``demand.trips``)
connected    boolean   optional; ``1``/``true``/``yes`` or ``0``/``false``/``no``;
                       empty means "draw from the class's connected share"
===========  ========  ==========================================================

Every problem is an `InputFileError` carrying the file, the 1-based physical line (the
header is line 1) and the column name, e.g.
``trips.csv, line 4, column 'class': 'bus' is not a vehicle class; expected one of ...``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.csv_table import check_header, read_csv_records
from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.road.network import Network
from v2x_sim.scenario.sections import TripEntry, VehicleKind

REQUIRED_COLUMNS = ("depart_s", "origin", "destination", "class")
OPTIONAL_COLUMNS = ("connected",)
_KIND_INDEX = {kind.value: i for i, kind in enumerate(VehicleKind)}
_BOOLEANS = {"1": 1, "true": 1, "yes": 1, "0": 0, "false": 0, "no": 0}
_DTYPES = {"depart_s": np.float64, "origin": np.int64, "destination": np.int64,
           "kind": np.int64, "connected": np.int8}
NOT_GIVEN = -1
"""Value of `TripList.connected` when the trip does not say whether it is connected."""


@dataclass(frozen=True, slots=True, eq=False)
class TripList:
    """Explicit trips as parallel column arrays, in the order they were given.

    Attributes:
        depart_s: departure times, seconds (float64, not necessarily sorted).
        origin: origin node indices (int64), not external ids.
        destination: destination node indices (int64).
        kind: vehicle class as an index into ``list(VehicleKind)`` (int64).
        connected: 1 connected, 0 not connected, -1 (`NOT_GIVEN`) draw from the
            class's connected share (int8).
    """

    depart_s: NDArray[np.float64]
    origin: NDArray[np.int64]
    destination: NDArray[np.int64]
    kind: NDArray[np.int64]
    connected: NDArray[np.int8]

    def __post_init__(self) -> None:
        for name, dtype in _DTYPES.items():
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))
        sizes = {name: len(getattr(self, name)) for name in _DTYPES}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"TripList columns differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.depart_s)

    @staticmethod
    def from_columns(*columns: Sequence[float] | NDArray[np.generic]) -> TripList:
        """A list from five sequences in field order, converted to the field dtypes."""
        return TripList(*(np.asarray(column, dtype=dtype)
                          for column, dtype in zip(columns, _DTYPES.values(), strict=True)))

    @staticmethod
    def empty() -> TripList:
        """A list with no trips."""
        return TripList.from_columns(*([] for _ in _DTYPES))

    @staticmethod
    def concat(*lists: TripList) -> TripList:
        """Join several lists, keeping their order (no sorting by departure time)."""
        if not lists:
            return TripList.empty()
        return TripList(*(np.concatenate([getattr(t, name) for t in lists]) for name in _DTYPES))


def read_trip_file(path: Path, network: Network) -> TripList:
    """Read a trip list CSV file (format in the module docstring).

    Args:
        path: the trip file.
        network: the network whose node ids the file's origins and destinations name.

    Returns:
        The trips in file order, with node ids turned into node indices.

    Raises:
        InputFileError: the file is missing, empty or has a bad header or row; the error
            names the file, line and column.
    """
    path = Path(path)
    records = read_csv_records(path)
    if not records:
        raise InputFileError(path, "file is empty; expected a header row: "
                                   f"{', '.join(REQUIRED_COLUMNS)}[, connected]")
    header_line, header = records[0]
    names = [name.strip() for name in header]
    renamed = "vehicle_class" in names and "class" not in names  # the scenario's name
    if renamed:
        names = ["class" if name == "vehicle_class" else name for name in names]
    check_header(path, header_line, names, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    node_index = {node: i for i, node in enumerate(network.node_ids.tolist())}
    try:
        rows = [_parse_row(path, line, names, record, node_index)
                for line, record in records[1:]]
    except InputFileError as exc:
        if renamed and exc.column == "class":  # name the column as the file does
            raise InputFileError(path, exc.reason, exc.line, "vehicle_class") from None
        raise
    return TripList.from_columns(*zip(*rows, strict=True)) if rows else TripList.empty()


def _parse_row(path: Path, line: int, names: list[str], record: list[str],
               node_index: dict[str, int]) -> tuple[float, int, int, int, int]:
    """One data row as (depart_s, origin index, destination index, kind, connected)."""

    def error(column: str | None, reason: str) -> InputFileError:
        return InputFileError(path, reason, line=line, column=column)

    if len(record) != len(names):
        raise error(None, f"row has {len(record)} fields; expected {len(names)} "
                          f"({', '.join(names)})")
    row = {name: text.strip() for name, text in zip(names, record, strict=True)}
    text = row["depart_s"]
    try:
        depart = float(text)
    except ValueError:
        depart = math.nan
    if not math.isfinite(depart) or depart < 0:
        raise error("depart_s", f"{text!r} is not a departure time; expected a finite "
                                "number of seconds >= 0")
    ends = []
    for end in ("origin", "destination"):
        node = row[end]
        if not node:
            raise error(end, "empty value; expected a node id of the network")
        if node not in node_index:
            raise error(end, f"unknown node id {node!r}; expected a node id of the network")
        ends.append(node_index[node])
    if ends[0] == ends[1]:
        raise error("destination", f"destination {row['destination']} equals the origin; "
                                   "expected a node other than the origin")
    kind = _KIND_INDEX.get(row["class"].lower())
    if kind is None:
        raise error("class", f"{row['class']!r} is not a vehicle class; expected one of "
                             f"{', '.join(_KIND_INDEX)}")
    text = row.get("connected", "")
    if text and text.lower() not in _BOOLEANS:
        raise error("connected", f"{text!r} is not a boolean; expected 1, 0, true, false, "
                                 "yes, no or empty (use the class's share)")
    connected = _BOOLEANS[text.lower()] if text else NOT_GIVEN
    return depart, ends[0], ends[1], kind, connected


def trip_list_from_entries(entries: Sequence[TripEntry], network: Network,
                           field_path: str = "demand.trips") -> TripList:
    """Column arrays from explicit trip entries (e.g. the scenario's ``demand.trips``).

    Args:
        entries: trips (any objects with ``depart_s``, ``origin``, ``destination`` node
            ids, ``vehicle_class`` and ``connected``; None draws from the class's share).
        network: the network whose node ids the entries name.
        field_path: where the entries sit in the scenario, for error messages.

    Returns:
        The trips in the given order, with node ids turned into node indices.

    Raises:
        ScenarioError: an unknown node id, or origin equal to destination, naming e.g.
            ``demand.trips[3].origin``.
    """
    origins, destinations = [], []
    for i, entry in enumerate(entries):
        origin = network.node_index(entry.origin, field_path=f"{field_path}[{i}].origin")
        destination = network.node_index(entry.destination,
                                         field_path=f"{field_path}[{i}].destination")
        if origin == destination:
            raise ScenarioError(f"{field_path}[{i}].destination", entry.destination,
                                "equals the origin; expected a node other than the origin")
        origins.append(origin)
        destinations.append(destination)
    return TripList.from_columns(
        [float(e.depart_s) for e in entries], origins, destinations,
        [_KIND_INDEX[VehicleKind(e.vehicle_class).value] for e in entries],
        [NOT_GIVEN if e.connected is None else int(bool(e.connected)) for e in entries],
    )
