"""Message streams sorted by arrival, and their merges in linear time (compiled).

A `Stream` is a batch of messages as arrays (arrival, service, generation times, kind
codes, optional content ids), sorted by arrival. Two sorted streams merge without a
sort: one searchsorted places the second's messages among the first's, and one compiled
pass interleaves the arrays (`_interleave`; `_merge` is the same merge for use inside
other compiled code, such as a server pool's one-call window in `servers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

EMPTY_F = np.zeros(0)
EMPTY_I = np.zeros(0, dtype=np.int64)


@dataclass
class Stream:
    """Messages sorted by arrival: arrival, service and generation times, kind codes.

    ``payload`` (optional) holds, per message, the id of the content it carries (-1:
    none); the pool hands those ids back with the message's departure (`Handover`).
    """

    arrival_s: FloatArray = field(default_factory=lambda: EMPTY_F)
    service_s: FloatArray = field(default_factory=lambda: EMPTY_F)
    kind: IntArray = field(default_factory=lambda: EMPTY_I)
    born_s: FloatArray = field(default_factory=lambda: EMPTY_F)
    payload: IntArray | None = None

    def __len__(self) -> int:
        return len(self.arrival_s)

    def payload_ids(self) -> IntArray:
        """Content id per message (-1 where it carries none)."""
        if self.payload is None:
            return np.full(len(self), -1, dtype=np.int64)
        return self.payload

    def tail(self, start: int) -> Stream:
        """The messages from position ``start`` on."""
        return Stream(self.arrival_s[start:], self.service_s[start:], self.kind[start:],
                      self.born_s[start:],
                      None if self.payload is None else self.payload[start:])

    @staticmethod
    def merged(first: Stream, second: Stream) -> Stream:
        """Both (sorted) streams in one arrival-sorted stream, in linear time.

        Each message of ``second`` lands after the messages of ``first`` that arrive no
        later than it: positions from one searchsorted, no sort. The arrays are
        interleaved by one compiled pass (`_interleave`: a few microseconds where a
        numpy mask per array cost ~20 per merge, tens of thousands of merges an hour).
        """
        if not len(first):
            return second
        if not len(second):
            return first
        at_second = np.searchsorted(first.arrival_s, second.arrival_s, side="right")
        no_payload = first.payload is None and second.payload is None
        joined = _interleave(at_second, first.arrival_s, first.service_s, first.kind,
                             first.born_s, EMPTY_I if first.payload is None else first.payload,
                             second.arrival_s, second.service_s, second.kind, second.born_s,
                             EMPTY_I if second.payload is None else second.payload)
        if joined is not None:
            arrival, service, kind, born, payload = joined
            return Stream(arrival, service, kind, born, None if no_payload else payload)
        n = len(first) + len(second)
        at_second += np.arange(len(second))
        at_first = np.ones(n, dtype=bool)
        at_first[at_second] = False

        def join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = np.empty(n, dtype=a.dtype)
            out[at_first] = a
            out[at_second] = b
            return out

        payload = (None if first.payload is None and second.payload is None
                   else join(first.payload_ids(), second.payload_ids()))
        return Stream(join(first.arrival_s, second.arrival_s),
                      join(first.service_s, second.service_s), join(first.kind, second.kind),
                      join(first.born_s, second.born_s), payload)


@dataclass
class StreamSet:
    """One sorted `Stream` per node (edge node), all in one set of arrays.

    Node ``e``'s messages are positions ``bounds[e]:bounds[e + 1]``. A window's messages
    for every edge node travel this way to `pool_group.PoolGroup`, which serves all
    nodes in one compiled call: no per-node arrays, objects or calls. ``payload`` is
    None when no message carries content (else -1 where one carries none).
    """

    arrival_s: FloatArray
    service_s: FloatArray
    kind: IntArray
    born_s: FloatArray
    bounds: IntArray
    payload: IntArray | None = None

    @property
    def nodes(self) -> int:
        """How many nodes (streams) the set holds."""
        return len(self.bounds) - 1

    def __len__(self) -> int:
        return len(self.arrival_s)

    @staticmethod
    def empty(nodes: int) -> StreamSet:
        """``nodes`` empty streams."""
        return StreamSet(EMPTY_F, EMPTY_F, EMPTY_I, EMPTY_F, np.zeros(nodes + 1, np.int64))

    @staticmethod
    def of(streams: list[Stream]) -> StreamSet:
        """The streams, in node order, concatenated (their payloads -1 where absent)."""
        sizes = [len(s) for s in streams]
        if not any(sizes):  # (most windows' aggregates: nothing due at any node)
            return StreamSet.empty(len(streams))
        bounds = np.zeros(len(streams) + 1, np.int64)
        bounds[1:] = np.cumsum(sizes)
        has = any(s.payload is not None and len(s) for s in streams)
        return StreamSet(np.concatenate([s.arrival_s for s in streams]),
                         np.concatenate([s.service_s for s in streams]),
                         np.concatenate([s.kind for s in streams]).astype(np.int64, copy=False),
                         np.concatenate([s.born_s for s in streams]), bounds,
                         np.concatenate([s.payload_ids() for s in streams]) if has else None)

    def stream(self, node: int) -> Stream:
        """Node ``node``'s messages as a `Stream` (views into the set's arrays)."""
        a, b = int(self.bounds[node]), int(self.bounds[node + 1])
        payload = None
        if self.payload is not None and b > a:
            payload = self.payload[a:b]
        return Stream(self.arrival_s[a:b], self.service_s[a:b], self.kind[a:b],
                      self.born_s[a:b], payload)

    def streams(self) -> list[Stream]:
        """Every node's `Stream`, in node order."""
        return [self.stream(e) for e in range(self.nodes)]


@njit(cache=True)
def _interleave(at_second, fa, fs, fk, fb, fp, sa, ss, sk, sb, sp):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Place ``second[i]`` at ``at_second[i] + i`` and ``first`` in order around them.

    Returns None when ``at_second`` decreases somewhere (inputs not sorted): the caller
    then takes the numpy path, so the result never depends on which path ran. A
    payload array shorter than its stream (empty) means no content: -1.
    """
    if not _non_decreasing(at_second):
        return None
    return _interleave_sorted(at_second, fa, fs, fk, fb, fp, sa, ss, sk, sb, sp)


@njit(cache=True, nogil=True)
def _non_decreasing(values):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Whether no value is below the one before it (`_interleave`'s sortedness check)."""
    for i in range(1, values.shape[0]):  # noqa: SIM110 - compiled: numba has no all(generator)
        if values[i] < values[i - 1]:
            return False
    return True


@njit(cache=True, nogil=True)
def _interleave_sorted(at_second, fa, fs, fk, fb, fp, sa, ss, sk, sb, sp):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`_interleave` once ``at_second`` is known non-decreasing."""
    n_first = fa.shape[0]
    n_second = sa.shape[0]
    first_has = fp.shape[0] == n_first
    second_has = sp.shape[0] == n_second
    n = n_first + n_second
    arrival = np.empty(n)
    service = np.empty(n)
    kind = np.empty(n, fk.dtype)
    born = np.empty(n)
    payload = np.empty(n, fp.dtype)
    i_first = 0
    out = 0
    for i in range(n_second + 1):
        stop = at_second[i] if i < n_second else n_first
        while i_first < stop:
            arrival[out] = fa[i_first]
            service[out] = fs[i_first]
            kind[out] = fk[i_first]
            born[out] = fb[i_first]
            payload[out] = fp[i_first] if first_has else -1
            i_first += 1
            out += 1
        if i < n_second:
            arrival[out] = sa[i]
            service[out] = ss[i]
            kind[out] = sk[i]
            born[out] = sb[i]
            payload[out] = sp[i] if second_has else -1
            out += 1
    return arrival, service, kind, born, payload


@njit(cache=True, nogil=True)
def _merge(fa, fs, fk, fb, fp, f_has, sa, ss, sk, sb, sp, s_has):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`Stream.merged` in compiled form: (sorted, arrays, payload, has_payload).

    A payload array is meaningful only where its ``has`` flag is set (the compiled
    stand-in for a payload of None); ``sorted`` False (the rest then meaningless) where
    `_interleave` would decline. As `Stream.merged`, an empty stream yields the other
    unchanged.
    """
    if fa.shape[0] == 0:
        return True, (sa, ss, sk, sb), sp, s_has
    if sa.shape[0] == 0:
        return True, (fa, fs, fk, fb), fp, f_has
    at_second = np.searchsorted(fa, sa, side="right")
    if not _non_decreasing(at_second):
        return False, (fa, fs, fk, fb), fp, f_has
    none = np.empty(0, np.int64)
    joined = _interleave_sorted(at_second, fa, fs, fk, fb, fp if f_has else none,
                                sa, ss, sk, sb, sp if s_has else none)
    return True, (joined[0], joined[1], joined[2], joined[3]), joined[4], f_has or s_has
