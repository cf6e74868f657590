"""Habitual routes as CSV: ``routes.csv`` and the optional ``route_times.csv``.

``routes.csv``, one row per path of an origin-destination pair in a departure interval
(UTF-8, header row, columns in any order):

- ``origin``, ``destination``: node ids.
- ``from_s``, ``to_s``: the departure interval [from_s, to_s); every row uses the same
  width and intervals start at multiples of it (0-900, 900-1800, ...).
- ``share`` (> 0): the share of the pair's trips in the interval taking this path
  (normalised per pair and interval).
- ``links``: the path as link ids separated by spaces, from origin to destination.

``route_times.csv`` (optional), one row per link and entry-time bin: ``link, t_start_s,
t_end_s, travel_time_s`` (uniform bins from 0; missing rows mean free flow): the link
times the routes were built on, used to route pairs the routes do not cover.

The equilibrium's cache folder holds both files in this format: copy them to use an
equilibrium as a route file. Errors name the file, line and column.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from v2x_sim._core.atomic import write_text_atomic
from v2x_sim._core.csv_table import check_header, read_csv_records
from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.road.network import Network
from v2x_sim.traffic.habitual import Cell, HabitualRoutes

ROUTE_COLUMNS = ("origin", "destination", "from_s", "to_s", "share", "links")
TIME_COLUMNS = ("link", "t_start_s", "t_end_s", "travel_time_s")


def _number(value: float) -> str:
    return repr(round(float(value), 6))


def routes_csv_text(routes: HabitualRoutes, network: Network) -> str:
    """``routes.csv`` text of ``routes`` (floats rounded to 6 decimals)."""
    out = io.StringIO()
    out.write(",".join(ROUTE_COLUMNS) + "\n")
    width = routes.interval_s
    for (o, d, k), (ids, shares) in sorted(routes.cells.items()):
        head = (f"{network.node_ids[o]},{network.node_ids[d]},{_number(k * width)},"
                f"{_number((k + 1) * width)}")
        for pid, share in zip(ids.tolist(), shares.tolist(), strict=True):
            links = " ".join(str(network.link_ids[link]) for link in routes.paths[pid])
            out.write(f"{head},{_number(share)},{links}\n")
    return out.getvalue()


def times_csv_text(routes: HabitualRoutes, network: Network) -> str | None:
    """``route_times.csv`` text of the routes' link time profile (None without one)."""
    if routes.link_time_s is None:
        return None
    out = io.StringIO()
    out.write(",".join(TIME_COLUMNS) + "\n")
    n_links, n_bins = routes.link_time_s.shape
    for link in range(n_links):
        for b in range(n_bins):
            out.write(f"{network.link_ids[link]},{_number(b * routes.bin_s)},"
                      f"{_number((b + 1) * routes.bin_s)},"
                      f"{_number(routes.link_time_s[link, b])}\n")
    return out.getvalue()


def write_route_files(routes: HabitualRoutes, network: Network, folder: Path) -> None:
    """Write ``routes.csv`` (and ``route_times.csv`` when there is a profile) atomically."""
    write_text_atomic(folder / "routes.csv", routes_csv_text(routes, network))
    times = times_csv_text(routes, network)
    if times is not None:
        write_text_atomic(folder / "route_times.csv", times)


class _Reader:
    """Rows of one file with checked parsing that names file, line and column."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path = path
        records = read_csv_records(path)
        if not records:
            raise InputFileError(path, f"file is empty; expected a header row: "
                                       f"{','.join(columns)}")
        line, header = records[0]
        self.names = [name.strip() for name in header]
        check_header(path, line, self.names, columns, ())
        self.records = records[1:]
        if not self.records:
            raise InputFileError(path, "no data rows: the file has a header only")

    def rows(self) -> list[tuple[int, dict[str, str]]]:
        out = []
        for line, record in self.records:
            if len(record) != len(self.names):
                raise InputFileError(self.path, f"row has {len(record)} fields; expected "
                                                f"{len(self.names)}", line=line)
            out.append((line, {n: t.strip() for n, t in zip(self.names, record, strict=True)}))
        return out

    def number(self, line: int, fields: dict[str, str], column: str, *,
               positive: bool = False) -> float:
        text = fields[column]
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            expected = "> 0" if positive else ">= 0"
            raise InputFileError(self.path, f"{text!r} is not a number {expected}",
                                 line=line, column=column)
        return value

    def grid(self, line: int, start: float, end: float, width: float | None,
             columns: tuple[str, str]) -> tuple[float, int]:
        """Check [start, end) is a bin of one uniform grid from 0; (width, bin index)."""
        size = end - start
        if size <= 0:
            raise InputFileError(self.path, f"{end:g} is not after {start:g}", line=line,
                                 column=columns[1])
        if width is not None and abs(size - width) > 1e-6:
            raise InputFileError(self.path, f"interval {start:g}-{end:g} is not {width:g} s "
                                            "wide like the first row's", line=line,
                                 column=columns[1])
        width = size if width is None else width
        k = round(start / width)
        if abs(k * width - start) > 1e-6:
            raise InputFileError(self.path, f"{start:g} is not a multiple of the interval "
                                            f"width {width:g} s", line=line, column=columns[0])
        return width, int(k)


def _index(path: Path, line: int, column: str, text: str,
           lookup: Callable[..., int]) -> int:
    try:
        return lookup(text)
    except (ScenarioError, ValueError):
        kind = "node" if column in ("origin", "destination") else "link"
        raise InputFileError(path, f"{text!r}: no {kind} with this id in the network",
                             line=line, column=column) from None


def read_route_files(routes_path: Path, times_path: Path | None,
                     network: Network) -> HabitualRoutes:
    """Habitual routes from ``routes.csv`` and optionally ``route_times.csv``.

    Raises:
        InputFileError: naming file, line and column of the first problem.
    """
    reader = _Reader(routes_path, ROUTE_COLUMNS)
    paths: dict[tuple[int, ...], int] = {}
    cells: dict[Cell, dict[int, float]] = {}
    width: float | None = None
    # a file repeats its ids and paths (every interval lists a pair's paths again):
    # each distinct id text is looked up, and each distinct path checked, once
    nodes: dict[str, int] = {}
    links_of: dict[str, int] = {}
    checked: dict[tuple[int, int, str], tuple[int, ...]] = {}
    ends = (network.from_node.tolist(), network.to_node.tolist())
    for line, fields in reader.rows():
        o = nodes.get(fields["origin"], -1)
        if o < 0:
            o = nodes[fields["origin"]] = _index(routes_path, line, "origin",
                                                 fields["origin"], network.node_index)
        d = nodes.get(fields["destination"], -1)
        if d < 0:
            d = nodes[fields["destination"]] = _index(
                routes_path, line, "destination", fields["destination"], network.node_index)
        start = reader.number(line, fields, "from_s")
        end = reader.number(line, fields, "to_s")
        width, k = reader.grid(line, start, end, width, ("from_s", "to_s"))
        share = reader.number(line, fields, "share", positive=True)
        text = fields["links"]
        links = checked.get((o, d, text))
        if links is None:
            found = []
            for t in text.split():
                index = links_of.get(t, -1)
                if index < 0:
                    index = links_of[t] = _index(routes_path, line, "links", t,
                                                 network.link_index)
                found.append(index)
            links = tuple(found)
            _check_path(routes_path, line, network, o, d, links, ends)
            checked[(o, d, text)] = links
        pid = paths.setdefault(links, len(paths))
        cell = cells.setdefault((o, d, k), {})
        if pid in cell:
            raise InputFileError(routes_path, "this path is listed twice for the pair and "
                                              "interval", line=line, column="links")
        cell[pid] = share
    assert width is not None  # the reader refuses files without rows
    compiled = {key: (np.fromiter(c.keys(), dtype=np.int64, count=len(c)),
                      np.fromiter(c.values(), dtype=np.float64, count=len(c)))
                for key, c in cells.items()}
    profile, bin_s = (None, 0.0) if times_path is None else _read_times(times_path, network)
    return HabitualRoutes(width, list(paths), compiled, profile, bin_s)


def _check_path(path: Path, line: int, network: Network, origin: int, destination: int,
                links: tuple[int, ...], ends: tuple[list[int], list[int]]) -> None:
    """The path is links end to end from ``origin`` to ``destination``.

    ``ends``: every link's start and end node, as lists (read once per file).
    """
    if origin == destination:
        raise InputFileError(path, "origin and destination are the same node", line=line,
                             column="destination")
    if not links:
        raise InputFileError(path, "no links given", line=line, column="links")
    from_node, to_node = ends
    nodes = [origin, *(to_node[link] for link in links)]
    starts = [from_node[link] for link in links]
    for i, (here, start) in enumerate(zip(nodes[:-1], starts, strict=True)):
        if here != start:
            raise InputFileError(path, f"link {network.link_ids[links[i]]} does not start "
                                       f"where the path has got to (node "
                                       f"{network.node_ids[here]})", line=line, column="links")
    if nodes[-1] != destination:
        raise InputFileError(path, f"the path ends at node {network.node_ids[nodes[-1]]}, "
                                   "not at the destination", line=line, column="links")


def _read_times(path: Path, network: Network) -> tuple[np.ndarray, float]:
    reader = _Reader(path, TIME_COLUMNS)
    width: float | None = None
    entries = []
    for line, fields in reader.rows():
        link = _index(path, line, "link", fields["link"], network.link_index)
        start = reader.number(line, fields, "t_start_s")
        end = reader.number(line, fields, "t_end_s")
        width, b = reader.grid(line, start, end, width, ("t_start_s", "t_end_s"))
        entries.append((link, b, reader.number(line, fields, "travel_time_s", positive=True)))
    assert width is not None
    n_bins = max(b for _, b, _ in entries) + 1
    profile = np.repeat(network.free_flow_time_s[:, None], n_bins, axis=1)
    for link, b, value in entries:
        profile[link, b] = value
    return profile, width
