"""Link storage with the backward wave: space freed at an exit reaches the entry later.

A link holds ``L * lanes * k_jam`` vehicles (in PCE; less over a work zone's closed
lanes). Space freed when a vehicle leaves at the exit becomes usable at the entry only
when the backward wave has brought it there, ``L / w`` later (w from the triangular
diagram's congested branch). So a link takes a vehicle at ``t`` only if

    N_in(t) < N_out(t - L / w) + L * lanes * k_jam,

Newell's receiving function of the kinematic-wave model: a queue discharging at flow
q holds ``k_jam L - q L / w`` vehicles (the congested density of q), and a released jam
frees the entry ``L / w`` after its head moved. Released space is kept per link as a
queue of (instant it reaches the entry, pce) and read only when the link is nearly
full, so the wave costs no simulation event.
"""

from __future__ import annotations

from collections import deque

INF = float("inf")


class LinkStorage:
    """What each link holds now, counting space still travelling back as held.

    Args:
        storage_veh: storage per link (PCE).
        wave_s: the backward wave's travel time per link, L / w.
    """

    def __init__(self, storage_veh: list[float], wave_s: list[float]) -> None:
        n = len(storage_veh)
        self.base_veh = list(storage_veh)
        self.storage_veh = list(storage_veh)
        self.wave_s = wave_s
        self.held = [0.0] * n
        # instants released space reaches each link's entry, oldest first, and its pce
        # (two deques of floats, not one of tuples: no GC-tracked object per exit)
        self.release_at: list[deque[float]] = [deque() for _ in range(n)]
        self.release_pce: list[deque[float]] = [deque() for _ in range(n)]

    def full_until(self, link: int, pce: float, now: float) -> float:
        """0 if ``link`` has room for ``pce`` now, else when space next reaches its entry.

        INF when no space is on its way (a vehicle must leave first). An empty link
        takes any vehicle, however long.
        """
        self.forget_released(link, now)
        held = self.held[link]
        if held > 0.0 and held + pce > self.storage_veh[link]:
            release_at = self.release_at[link]
            return release_at[0] if release_at else INF
        return 0.0

    def forget_released(self, link: int, now: float) -> None:
        """Drop the releases that reached the entry by ``now`` from what ``link`` holds.

        The engine appends a release to `release_at`, `release_pce` when a vehicle leaves
        and adds to `held` when one enters (inline, on its hot path); it calls this when
        a link's release queue grows long, `full_until` when the link is nearly full.
        """
        release_at, release_pce = self.release_at[link], self.release_pce[link]
        held = self.held[link]
        while release_at and release_at[0] <= now:
            release_at.popleft()
            held -= release_pce.popleft()
        self.held[link] = held
