"""Lane groups at a link's exit: which of its lanes each outgoing movement uses.

Each movement (the approach link, then an outgoing link at its end node) is classified
by its turn angle, the change of heading from the approach's last segment to the
outgoing link's first (from the links' shapes, else their end nodes): positive is a
left turn (counter-clockwise, right-hand traffic), within ``THROUGH_DEG`` of zero
through. The approach's lanes are then handed out in two steps.

1. **Each movement its lanes, from the left.** With ``n`` lanes and ``m`` movements
   ordered from the leftmost turn to the rightmost,

   - ``n >= m``: each movement gets one lane (the leftmost lane to the leftmost turn,
     the rightmost lane to the rightmost), and the ``n - m`` lanes left over go to the
     movement closest to straight on;
   - ``n < m``: lanes are shared: movement ``j`` uses every lane ``k`` (counted from
     the left) whose share of the road width ``[k / n, (k + 1) / n)`` overlaps the
     movement's share ``[j / m, (j + 1) / m)``.

2. **The through movement shares the turn lanes.** The movement closest to straight
   on, if it is within ``THROUGH_DEG`` (ties: the one continuing the approach's road
   class), also uses the lanes next to its own, first to its right, then to its left,
   until it has as many lanes as the link it goes on to (at most ``n``). So on two
   lanes with a through and a right turn, the right lane is a shared through-right
   lane (not a right-turn lane): the through movement keeps both lanes' capacity.
   This is what SUMO's ``netconvert`` builds by default (after dividing the lanes
   among the outgoing edges, ``NBEdge::addStraightConnections`` connects the straight
   edge from as many lanes as it has, rightmost first, where no connection would
   cross one to another edge), and how the Highway Capacity Manual groups lanes: an
   exclusive turn lane is a lane group of its own, through lanes are grouped
   together with the shared through-right and through-left lanes on their sides.

On a three-lane approach with a left, a through and a right turn into three-lane
links: a left-through, a through and a through-right lane; into two-lane links: an
exclusive left lane, a through lane and a through-right lane. Two lanes with left,
through and right: left-through and through-right.

On an expressway the through movement (the mainline) keeps every lane: exits leave
from, and entries join, auxiliary lanes the link model does not draw, so a diverge
does not take a lane from the mainline.

A U-turn away from a dead end takes no lane of its own (it is not a movement vehicles
plan, see `movements`): it uses the leftmost lane. A connections file (`turn_table`)
restricts the movements to those it lists and, where it names the lanes a movement
uses, those lanes replace the geometric ones. A one-lane link, and a link all of whose
movements use every lane, has no lane groups (the empty mapping): all movements share
one queue. Leaving the road at the link's end (a destination, a stop) uses every lane.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network, RoadClass

THROUGH_DEG = 30.0
"""Turns within this angle of straight on are through movements (SUMO uses the same
order of magnitude for its ``s`` direction)."""

LaneMasks = list[dict[int, int]]
"""Per link: outgoing link -> bit mask of the approach lanes its movement uses (bit 0
the rightmost); empty when the link has no lane groups."""


def end_headings_rad(network: Network) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Direction of travel at each link's start and at its end (shapes where known)."""
    chord = network.heading_rad()
    start, end = chord.copy(), chord.copy()
    shapes = network.shapes
    if shapes is not None:
        for link in np.flatnonzero(np.diff(shapes.offsets) >= 2).tolist():
            points = shapes.points(link)
            assert points is not None  # at least two points
            xs, ys = points
            start[link] = math.atan2(ys[1] - ys[0], xs[1] - xs[0])
            end[link] = math.atan2(ys[-1] - ys[-2], xs[-1] - xs[-2])
    return start, end


def turn_angle_deg(end_heading_rad: float, start_heading_rad: float) -> float:
    """The turn from one heading to the next, in (-180, 180]: positive turns left."""
    angle = math.degrees((start_heading_rad - end_heading_rad) % (2.0 * math.pi))
    return angle - 360.0 if angle > 180.0 else angle


def share_lanes(n_lanes: int, angles_deg: list[float], *,
                exit_lanes: list[int] | None = None,
                continues: list[bool] | None = None,
                through_keeps_all: bool = False) -> list[int]:
    """Lane masks of movements with these turn angles on an approach of ``n_lanes``.

    The rule is in the module docstring.

    Args:
        n_lanes: lanes of the approach.
        angles_deg: each movement's turn angle (left positive).
        exit_lanes: lanes of each movement's next link (None: as many as the
            approach); the through movement shares turn lanes up to this many lanes.
        continues: whether each movement's next link has the approach's road class
            (None: all do); it breaks ties between equally straight movements.
        through_keeps_all: give the through movement every lane (an expressway's
            mainline).

    Returns:
        One bit mask per movement, in the order of ``angles_deg``; bit 0 is the
        rightmost lane.
    """
    m = len(angles_deg)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda j: (-angles_deg[j], j))  # leftmost turn first
    masks = [0] * m
    through = min(range(m), key=lambda j: (  # in ``order``
        abs(angles_deg[order[j]]), continues is not None and not continues[order[j]], j))
    if n_lanes >= m:  # one lane each, from the left; spare ones to the straightest
        left = 0  # lanes counted from the left
        for j, movement in enumerate(order):
            width = 1 + (n_lanes - m if j == through else 0)
            for k in range(left, left + width):
                masks[movement] |= 1 << (n_lanes - 1 - k)
            left += width
    else:
        for j, movement in enumerate(order):
            for k in range(n_lanes):
                if k * m < (j + 1) * n_lanes and j * n_lanes < (k + 1) * m:  # shares overlap
                    masks[movement] |= 1 << (n_lanes - 1 - k)
    straight = order[through]
    if abs(angles_deg[straight]) <= THROUGH_DEG:
        if through_keeps_all:
            masks[straight] = (1 << n_lanes) - 1
        else:
            wanted = min(n_lanes, n_lanes if exit_lanes is None else exit_lanes[straight])
            masks[straight] = _widen(masks[straight], n_lanes, wanted)
    return masks


def _widen(mask: int, n_lanes: int, wanted: int) -> int:
    """A run of adjacent lanes grown to ``wanted`` lanes, to the right first.

    ``mask`` grows lane by lane to the right (lower bits) while it can, then to the
    left, until it has ``wanted`` lanes or all the approach's ``n_lanes``.
    """
    low = (mask & -mask).bit_length() - 1  # its rightmost lane
    high = mask.bit_length() - 1  # its leftmost lane
    while mask.bit_count() < wanted and low > 0:
        low -= 1
        mask |= 1 << low
    while mask.bit_count() < wanted and high < n_lanes - 1:
        high += 1
        mask |= 1 << high
    return mask


def lane_masks(network: Network, *, u_turns_anywhere: bool = False) -> LaneMasks:
    """Each link's lane groups: outgoing link -> lanes used (see the module docstring)."""
    start, end = end_headings_rad(network)
    turns = network.turns
    listed: dict[int, dict[int, int]] = {}
    if turns is not None:
        for a, b, mask in zip(turns.from_link.tolist(), turns.to_link.tolist(),
                              turns.lanes_mask.tolist(), strict=True):
            listed.setdefault(a, {})[b] = mask
    from_node, to_node = network.from_node.tolist(), network.to_node.tolist()
    lanes = network.lanes.tolist()
    road_class = network.road_class.tolist()
    masks: LaneMasks = []
    for a in range(network.n_links):
        n = lanes[a]
        if n < 2:
            masks.append({})
            continue
        outs = network.outgoing(to_node[a]).tolist()
        if turns is not None:
            outs = [b for b in outs if b in listed.get(a, {})]
        back = [b for b in outs if to_node[b] == from_node[a]]
        planned = outs if u_turns_anywhere or len(back) == len(outs) else [
            b for b in outs if b not in back]
        angles = [turn_angle_deg(end[a], start[b]) for b in planned]
        groups = dict(zip(planned, share_lanes(
            n, angles, exit_lanes=[lanes[b] for b in planned],
            continues=[road_class[b] == road_class[a] for b in planned],
            through_keeps_all=road_class[a] == RoadClass.EXPRESSWAY), strict=True))
        leftmost = 1 << (n - 1)
        for b in outs:
            groups.setdefault(b, leftmost)
        full = (1 << n) - 1
        for b, mask in listed.get(a, {}).items():
            if mask:
                groups[b] = mask & full or full
        masks.append({} if all(m == full for m in groups.values()) else groups)
    return masks
