"""Signal plans as CSV: read a plan file, write ``signals.csv`` in the same format.

One row per signalised approach link (UTF-8, header row, columns in any order):

- ``node``: the junction (node id); the link must end there.
- ``link``: the approach (link id).
- ``cycle_s`` (> 0): the junction's cycle; every row of a junction gives the same.
- ``green_start_s`` (0 <= value < cycle_s): start of the approach's *displayed* green
  within the junction's program.
- ``green_s`` (> 0): displayed green.
- ``amber_s`` (>= 0): amber after it.
- ``all_red_s`` (optional, default 0): all-red after the amber.
- ``offset_s`` (optional, default 0): when the junction's program starts in the run's
  clock (modulo the cycle); every row of a junction gives the same.
- ``to_link`` (optional): set, the row times one movement (approach -> ``to_link``);
  such rows are checked and kept for when turn movements exist, and need the
  approach's own row (``to_link`` empty), which is what the link model uses today.

Green, amber and all-red must fit in the cycle. Vehicles discharge during the
effective green: from ``startup_lost_s`` after the green starts to
``amber_usable_share`` of the amber after it ends (the scenario's ``road.signals``).
Links without a row are unsignalised. A file with a header and no rows is a plan
without signals. Errors name the file, line and column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.csv_table import check_header, read_csv_records
from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.road.network import Network
from v2x_sim.road.signals import MovementTiming, SignalPlan, no_signals

REQUIRED = ("node", "link", "cycle_s", "green_start_s", "green_s", "amber_s")
OPTIONAL = ("all_red_s", "offset_s", "to_link")
COLUMNS = (*REQUIRED, *OPTIONAL)


def _by_id(lookup: Callable[..., int]) -> Callable[[str], int]:
    """A network id lookup taking the id as written in the file (ids are opaque)."""
    return lookup


class _Row:
    """One data row with its line, parsing fields into checked values."""

    def __init__(self, path: Path, line: int, fields: dict[str, str]) -> None:
        self.path, self.line, self.fields = path, line, fields

    def error(self, column: str | None, reason: str) -> InputFileError:
        return InputFileError(self.path, reason, line=self.line, column=column)

    def number(self, column: str, *, minimum: float = 0.0, strict: bool = False,
               default: float | None = None) -> float:
        text = self.fields.get(column, "")
        if not text and default is not None:
            return default
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise self.error(column, f"{text!r} is not a finite number of seconds")
        if value < minimum or (strict and value == minimum):
            relation = ">" if strict else ">="
            raise self.error(column, f"{text} is out of range; expected a number {relation} "
                                     f"{minimum:g}")
        return value

    def link(self, network: Network, column: str) -> int:
        text = self.fields[column]
        try:
            return _by_id(network.link_index)(text)
        except (ScenarioError, ValueError):
            raise self.error(column, f"{text!r}: no link with this id in the network") from None

    def node(self, network: Network) -> int:
        text = self.fields["node"]
        try:
            return _by_id(network.node_index)(text)
        except (ScenarioError, ValueError):
            raise self.error("node", f"{text!r}: no node with this id in the network") from None


def _rows(path: Path) -> list[_Row]:
    records = read_csv_records(path)
    if not records:
        raise InputFileError(path, f"file is empty; expected a header row: {','.join(COLUMNS)}")
    header_line, header = records[0]
    names = [name.strip() for name in header]
    check_header(path, header_line, names, REQUIRED, OPTIONAL)
    rows = []
    for line, record in records[1:]:
        if len(record) != len(names):
            raise InputFileError(path, f"row has {len(record)} fields; expected {len(names)} "
                                       f"({', '.join(names)})", line=line)
        rows.append(_Row(path, line, {n: t.strip() for n, t in zip(names, record, strict=True)}))
    return rows


def read_signal_plan(path: Path, network: Network, *, startup_lost_s: float,
                     amber_usable_share: float) -> SignalPlan:
    """The plan in a signal file (format in the module docstring).

    Raises:
        InputFileError: naming file, line and column of the first problem.
    """
    plan = no_signals(network)
    junction: dict[int, tuple[float, float, int]] = {}  # node -> (cycle, offset, line)
    seen: dict[tuple[int, int], int] = {}
    movements: list[tuple[_Row, MovementTiming]] = []
    for row in _rows(path):
        node, link = row.node(network), row.link(network, "link")
        if network.to_node[link] != node:
            raise row.error("link", f"link {row.fields['link']} does not end at node "
                                    f"{row.fields['node']}")
        cycle = row.number("cycle_s", strict=True)
        start = row.number("green_start_s")
        if start >= cycle:
            raise row.error("green_start_s", f"{start:g} is not inside the cycle "
                                             f"(0 <= green_start_s < {cycle:g})")
        green = row.number("green_s", strict=True)
        amber = row.number("amber_s")
        all_red = row.number("all_red_s", default=0.0)
        offset = row.number("offset_s", default=0.0)
        if green + amber + all_red > cycle + 1e-9:
            raise row.error("green_s", f"green {green:g} + amber {amber:g} + all-red "
                                       f"{all_red:g} s exceed the cycle ({cycle:g} s)")
        used = amber * amber_usable_share
        if green - startup_lost_s + used <= 0.0:
            raise row.error("green_s", f"{green:g} s leaves no effective green after the "
                                       f"start-up loss ({startup_lost_s:g} s)")
        known = junction.setdefault(node, (cycle, offset % cycle, row.line))
        if (known[0], known[1]) != (cycle, offset % cycle):
            raise row.error("cycle_s", f"node {row.fields['node']} has cycle {known[0]:g} s "
                                       f"and offset {known[1]:g} s on line {known[2]}; one "
                                       "junction runs one program")
        to_text = row.fields.get("to_link", "")
        to_link = row.link(network, "to_link") if to_text else -1
        if to_link >= 0 and network.from_node[to_link] != node:
            raise row.error("to_link", f"link {to_text} does not leave node "
                                       f"{row.fields['node']}")
        if (link, to_link) in seen:
            raise row.error("link", f"link {row.fields['link']}"
                                    + (f" -> {to_text}" if to_text else "")
                                    + f" already has a row (line {seen[(link, to_link)]})")
        seen[(link, to_link)] = row.line
        if to_link >= 0:
            movements.append((row, MovementTiming(link, to_link, start, green, amber, all_red)))
            continue
        plan.cycle_s[link] = cycle
        plan.green_start_s[link] = (start + startup_lost_s + offset) % cycle
        plan.green_s[link] = green - startup_lost_s + used
        plan.amber_s[link] = amber
        plan.all_red_s[link] = all_red
        plan.offset_s[link] = offset % cycle
        plan.startup_lost_s[link] = startup_lost_s
        plan.amber_used_s[link] = used
    for row, movement in movements:
        if (movement.link, -1) not in seen:
            raise row.error("to_link", f"link {row.fields['link']} has movement rows but no "
                                       "row of its own (to_link empty); until turn movements "
                                       "exist, the approach row is what vehicles obey")
    return SignalPlan(plan.cycle_s, plan.green_start_s, plan.green_s, plan.amber_s,
                      plan.all_red_s, plan.offset_s, plan.startup_lost_s, plan.amber_used_s,
                      tuple(m for _, m in movements))


def signal_table(plan: SignalPlan, network: Network) -> dict[str, NDArray[Any]]:
    """``signals.csv`` columns for ``plan``: approach rows by node and link, then movements."""
    links = np.flatnonzero(plan.signalised)
    links = links[np.lexsort((links, network.to_node[links]))]
    moves = plan.movements
    approach = [int(m.link) for m in moves]
    every = np.concatenate([links, np.asarray(approach, dtype=np.int64)])
    start = np.concatenate([plan.displayed_start_s[links], [m.green_start_s for m in moves]])
    green = np.concatenate([plan.displayed_green_s[links], [m.green_s for m in moves]])
    amber = np.concatenate([plan.amber_s[links], [m.amber_s for m in moves]])
    all_red = np.concatenate([plan.all_red_s[links], [m.all_red_s for m in moves]])
    to_link = [""] * links.size + [str(network.link_ids[m.to_link]) for m in moves]
    return {
        "node": np.array([str(v) for v in network.node_ids[network.to_node[every]]], dtype=object),
        "link": np.array([str(v) for v in network.link_ids[every]], dtype=object),
        "cycle_s": plan.cycle_s[every],
        "green_start_s": start.astype(np.float64),
        "green_s": green.astype(np.float64),
        "amber_s": amber.astype(np.float64),
        "all_red_s": all_red.astype(np.float64),
        "offset_s": plan.offset_s[every],
        "to_link": np.array(to_link, dtype=object),
    }
