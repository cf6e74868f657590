"""Speed from density, and discharge capacity under a speed cap, for one lane group.

Pure functions of scalars (called once per vehicle entering a link, so they must be
cheap); densities are per lane in veh/m, speeds in m/s, flows per lane in veh/s.
"""

from __future__ import annotations

from collections.abc import Callable

MIN_SPEED_MPS = 0.5
"""Floor on the speed a vehicle is given at entry, so a jammed link still empties."""

SpeedFunction = Callable[[float, float, float, float, float], float]


def triangular_speed(
    density: float, free_speed: float, capacity: float, jam_density: float, wave_speed: float
) -> float:
    """Newell-Daganzo triangular diagram on its free branch: v = v_f.

    The movement engine caps the moving density at the critical density k_c = q / v_f
    ("congestion lives in queues"), and up to k_c the triangular diagram's speed is v_f
    whatever the density. Its congested branch q = w (k_j - k) acts through the exit
    queues and through `capped_capacity` (the discharge under a speed cap), never through
    the speed given at entry, so it is not evaluated here. Args are per lane, SI; all
    but ``free_speed`` are unused (the signature is the one of every speed function).
    """
    return free_speed


def greenshields_speed(
    density: float, free_speed: float, capacity: float, jam_density: float, wave_speed: float
) -> float:
    """Greenshields: v = v_f (1 - k / k_j); ``capacity`` and ``wave_speed`` are unused."""
    return max(MIN_SPEED_MPS, free_speed * (1.0 - density / jam_density))


SPEED_FUNCTIONS: dict[str, SpeedFunction] = {
    "triangular": triangular_speed,
    "greenshields": greenshields_speed,
}


def critical_density(kind: str, free_speed: float, capacity: float, jam_density: float) -> float:
    """Density at which flow peaks: q / v_f (triangular) or k_j / 2 (Greenshields)."""
    return jam_density / 2.0 if kind == "greenshields" else capacity / free_speed


def wave_speed(free_speed: float, capacity: float, jam_density: float) -> float:
    """Backward wave speed w = q / (k_j - q / v_f) that closes the triangle.

    With urban defaults (1,800 veh/h/lane, 50 km/h, 140 veh/km) this gives ~17 km/h, with
    expressway defaults ~19 km/h, close to the empirical 18 km/h (DOMAIN.md).
    """
    return capacity / (jam_density - capacity / free_speed)


def capped_capacity(
    kind: str,
    speed_cap: float,
    free_speed: float,
    capacity: float,
    jam_density: float,
    wave_speed: float,
) -> float:
    """Largest flow per lane the diagram allows when speed may not exceed ``speed_cap``.

    Triangular: the capped free branch q = v_c k meets the congested branch
    q = w (k_j - k) at q = v_c w k_j / (v_c + w). Greenshields: q = v_c k_j (1 - v_c/v_f)
    when v_c is below the critical speed v_f / 2. Never above ``capacity``.
    """
    if speed_cap >= free_speed:
        return capacity
    if kind == "greenshields":
        critical_speed = free_speed / 2.0
        if speed_cap >= critical_speed:
            return capacity
        return min(capacity, speed_cap * jam_density * (1.0 - speed_cap / free_speed))
    return min(capacity, speed_cap * wave_speed * jam_density / (speed_cap + wave_speed))
