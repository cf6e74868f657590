"""Read a network's ``connections.csv``: the movements allowed at its nodes.

The importers write it (`v2x_sim.road.importers.common`); a hand-made one works too.
UTF-8, comma separated, a header row, one row per movement:

- ``from_link``, ``to_link`` (text): link ids of ``links.csv``; ``to_link`` must start
  at the node where ``from_link`` ends.
- ``node`` (optional): that node's id, checked when given.
- ``from_lanes`` (optional): the approach lanes the movement uses, space-separated
  indices, 0 the rightmost; empty: derive them from geometry (`lane_layout`).
- ``dir``, ``to_lanes`` (optional): the turn letter and the lanes entered, kept by the
  importers for people; the model does not read them.

A movement the file does not list is forbidden: routes never take it (`turn_table`).
Rows for the same movement are merged (their lanes joined). Every problem is one
`InputFileError` naming the file, line and column.

By default (``road.file.connections: auto``) a ``connections.csv`` beside the links
file is read when it exists; a path reads that file; ``null`` reads none.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from v2x_sim._core.errors import ScenarioError
from v2x_sim.road.io import read_rows
from v2x_sim.road.network import Network
from v2x_sim.road.turn_table import TurnTable
from v2x_sim.scenario.schema import Scenario

AUTO = "auto"
"""The ``road.file.connections`` value that reads ``connections.csv`` beside the links."""

FILE_NAME = "connections.csv"
REQUIRED = ("from_link", "to_link")
OPTIONAL = {"node": "", "dir": "", "from_lanes": "", "to_lanes": ""}


def connections_path(scenario: Scenario) -> Path | None:
    """The connections file ``scenario``'s network reads (``road.file.connections``).

    None for generated networks, with ``connections: null``, and with ``auto`` when no
    ``connections.csv`` lies beside the links file (or the network is a run's table).
    """
    files = scenario.road.file
    if scenario.road.generator != "file" or files is None or files.connections is None:
        return None
    if files.connections != AUTO:
        return scenario.resolve_path(files.connections)
    if files.links is None:
        return None
    beside = scenario.resolve_path(files.links).parent / FILE_NAME
    return beside if beside.is_file() else None


def read_connections_csv(path: Path, network: Network) -> TurnTable:
    """The movements listed in ``path`` (format in the module docstring).

    Raises:
        InputFileError: a missing or empty file, a bad header, an unknown link or node,
            a movement between links that do not meet, or a lane the approach lacks.
    """
    path = Path(path)
    masks: dict[tuple[int, int], int] = {}
    ids = network.node_ids.tolist()
    for row in read_rows(path, REQUIRED, OPTIONAL, "movements"):
        ends = []
        for column in REQUIRED:
            link_id = row.identifier(column)
            try:
                index = network.link_index(link_id)
            except ScenarioError:
                raise row.error(column, f"unknown link id {link_id!r}; expected a link of "
                                        "the network's links file") from None
            ends.append(index)
        a, b = ends
        node = int(network.to_node[a])
        if int(network.from_node[b]) != node:
            raise row.error("to_link", f"{row.fields['to_link']!r} starts at node "
                                       f"{ids[network.from_node[b]]!r}, not at node "
                                       f"{ids[node]!r} where {row.fields['from_link']!r} ends")
        if row.fields["node"] and row.fields["node"] != str(ids[node]):
            raise row.error("node", f"{row.fields['node']!r} is not node {ids[node]!r} "
                                    f"where {row.fields['from_link']!r} ends")
        masks[(a, b)] = masks.get((a, b), 0) | _lanes(row, int(network.lanes[a]))
    pairs = list(masks)
    return TurnTable(from_link=np.array([p[0] for p in pairs], np.int64),
                     to_link=np.array([p[1] for p in pairs], np.int64),
                     lanes_mask=np.array(list(masks.values()), np.int64))


def _lanes(row, lanes: int) -> int:  # type: ignore[no-untyped-def]
    """The ``from_lanes`` bit mask of one row (0: not given)."""
    mask = 0
    for text in row.fields["from_lanes"].split():
        try:
            lane = int(text)
        except ValueError:
            raise row.error("from_lanes", f"{text!r} is not a lane index; expected "
                                          "space-separated integers, 0 the rightmost lane"
                            ) from None
        if not 0 <= lane < lanes:
            raise row.error("from_lanes", f"lane {lane} does not exist; the approach has "
                                          f"{lanes} lanes (0 to {lanes - 1})")
        mask |= 1 << lane
    return mask


def with_turns(network: Network, turns: TurnTable) -> Network:
    """``network`` restricted to the movements of ``turns``."""
    return replace(network, turns=turns)
