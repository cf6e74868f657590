"""Channel models: delay and loss of the PC5 sidelink, the Uu cellular link, fibre and WAN.

Each model is a frozen dataclass built from its scenario section with ``from_params``.
Draws are vectorised (one numpy call per quantity and batch, never a loop per message)
and take the caller's ``numpy.random.Generator``; models never make their own.
``deterministic=True`` replaces every distribution by its mean and delivers a message
iff its success probability is at least 0.5, so tests can assert hand-derived numbers.
Units are SI (metres, seconds, hertz) unless a name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from v2x_sim.scenario.v2x_sections import CloudSection, FibreParams, Pc5Params, UuParams

Direction = Literal["up", "down"]
"""Direction of a cellular hop: ``"up"`` (vehicle -> base station) or ``"down"``."""

Draw = tuple[NDArray[np.bool_], NDArray[np.float64]]
"""(delivered, delay_s) of a batch of messages, same shape."""


def _as_float(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Pc5Channel:
    """PC5 sidelink between vehicles and an RSU: loss grows with distance and load.

    Attributes:
        median_range_m: distance at which half the messages arrive on an idle channel.
        range_spread_m: width of the logistic fall-off around the median range.
        airtime_s: time one message occupies the channel.
        access_delay_s: mean channel-access delay on an idle channel.
        collision_loss_at_full_load: share of messages lost to collisions at CBR = 1.
        max_cbr: ceiling of the channel busy ratio (congestion control keeps it below).
    """

    median_range_m: float
    range_spread_m: float
    airtime_s: float
    access_delay_s: float
    collision_loss_at_full_load: float
    max_cbr: float

    @classmethod
    def from_params(cls, params: Pc5Params) -> Pc5Channel:
        """The channel described by a ``channels.pc5`` scenario section."""
        return cls(
            median_range_m=params.median_range_m,
            range_spread_m=params.range_spread_m,
            airtime_s=params.airtime_s,
            access_delay_s=params.access_delay_s,
            collision_loss_at_full_load=params.collision_loss_at_full_load,
            max_cbr=params.max_cbr,
        )

    def distance_delivery_ratio(self, distance_m: ArrayLike) -> NDArray[np.float64]:
        """Delivery ratio on an idle channel, a logistic curve in distance.

        ``r(d) = 1 / (1 + exp((d - median_range_m) / range_spread_m))``: exactly 0.5 at
        the median range, tending to 1 close by and to 0 far away.
        """
        x = (_as_float(distance_m) - self.median_range_m) / self.range_spread_m
        with np.errstate(over="ignore"):  # exp overflows far away; 1 / inf = 0 is right
            return 1.0 / (1.0 + np.exp(x))

    def channel_busy_ratio(self, transmitters: ArrayLike,
                           rate_hz: ArrayLike) -> NDArray[np.float64]:
        """Share of time the channel is busy: ``min(max_cbr, N * rate_hz * airtime_s)``.

        Args:
            transmitters: number of transmitters in range (N), scalar or array.
            rate_hz: message rate of each transmitter.
        """
        load = _as_float(transmitters) * _as_float(rate_hz) * self.airtime_s
        return np.minimum(self.max_cbr, load)

    def delivery_probability(self, distance_m: ArrayLike, cbr: ArrayLike) -> NDArray[np.float64]:
        """Success probability ``r(d) * (1 - collision_loss_at_full_load * cbr)``.

        ``r(d)`` is ``distance_delivery_ratio``; ``cbr`` in [0, max_cbr] (see
        ``channel_busy_ratio``). Arguments broadcast.
        """
        collisions = 1.0 - self.collision_loss_at_full_load * _as_float(cbr)
        return self.distance_delivery_ratio(distance_m) * collisions

    def mean_delay_s(self, cbr: ArrayLike) -> NDArray[np.float64]:
        """Mean one-hop delay ``airtime_s + access_delay_s / (1 - cbr)``."""
        return self.airtime_s + self.access_delay_s / (1.0 - _as_float(cbr))

    def draw(self, distance_m: ArrayLike, cbr: ArrayLike, rng: np.random.Generator, *,
             deterministic: bool = False) -> Draw:
        """Fate of a batch of messages: delivered or not, and the delay.

        ``delivered ~ Bernoulli(delivery_probability(d, cbr))``;
        ``delay_s = airtime_s + Exponential(mean = access_delay_s / (1 - cbr))``. A delay
        is drawn for lost messages too, so the arrays stay aligned.

        Args:
            distance_m: sender-receiver distance per message.
            cbr: channel busy ratio, scalar or per message; broadcasts with distance_m.
            rng: the caller's generator (unused when deterministic).
            deterministic: delay = its mean; delivered iff probability >= 0.5.

        Returns:
            (delivered, delay_s), both of the broadcast shape of the arguments.
        """
        distance = _as_float(distance_m)
        load = _as_float(cbr)
        if distance.ndim and distance.shape == load.shape and not deterministic:
            # the flows' case (one distance and load per message): no broadcasting, and
            # the exponential as scale x standard exponential, which is how numpy draws
            # it (the same numbers from the same stream), ~2x faster for an array of scales
            delivered = rng.random(distance.shape) < self.delivery_probability(distance, load)
            access_mean_s = self.access_delay_s / (1.0 - load)
            return delivered, self.airtime_s + access_mean_s * rng.standard_exponential(
                distance.shape)
        shape = np.broadcast_shapes(distance.shape, load.shape)
        probability = np.broadcast_to(self.delivery_probability(distance, load), shape)
        if deterministic:
            delay = np.broadcast_to(self.mean_delay_s(load), shape).copy()
            return probability >= 0.5, delay
        delivered = rng.random(shape) < probability
        access_mean_s = np.broadcast_to(self.access_delay_s / (1.0 - load), shape)
        return delivered, self.airtime_s + rng.exponential(access_mean_s)


@dataclass(frozen=True, slots=True)
class UuChannel:
    """Cellular link between a vehicle and its base station.

    Attributes:
        uplink_mean_s: mean one-way delay vehicle -> base station.
        downlink_mean_s: mean one-way delay base station -> vehicle.
        loss: probability a message is lost, either direction.
    """

    uplink_mean_s: float
    downlink_mean_s: float
    loss: float

    @classmethod
    def from_params(cls, params: UuParams) -> UuChannel:
        """The link of a ``channels.uu`` section; fields left empty come from its profile."""
        return cls(
            uplink_mean_s=params.resolved("uplink_mean_s"),
            downlink_mean_s=params.resolved("downlink_mean_s"),
            loss=params.resolved("loss"),
        )

    def mean_delay_s(self, direction: Direction) -> float:
        """The configured mean one-way delay of ``direction``."""
        if direction == "up":
            return self.uplink_mean_s
        if direction == "down":
            return self.downlink_mean_s
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")

    def draw(self, n: int, rng: np.random.Generator, *, direction: Direction,
             deterministic: bool = False) -> Draw:
        """Fate of ``n`` messages in one direction.

        ``delay_s = m/2 + Exponential(mean = m/2)`` with ``m = mean_delay_s(direction)``,
        so the mean delay is ``m`` and no delay is below ``m/2``;
        ``delivered ~ Bernoulli(1 - loss)``.

        Args:
            n: number of messages.
            rng: the caller's generator (unused when deterministic).
            direction: ``"up"`` or ``"down"``.
            deterministic: delay = m; all delivered iff 1 - loss >= 0.5.

        Returns:
            (delivered, delay_s), each of shape (n,).
        """
        mean_s = self.mean_delay_s(direction)
        if deterministic:
            return np.full(n, 1.0 - self.loss >= 0.5), np.full(n, mean_s)
        delivered = rng.random(n) < 1.0 - self.loss
        return delivered, 0.5 * mean_s + rng.exponential(0.5 * mean_s, size=n)


@dataclass(frozen=True, slots=True)
class FibreLink:
    """Wired backhaul: propagation along a detoured cable plus switching per node.

    Attributes:
        us_per_km: propagation delay in microseconds per km of cable.
        per_hop_s: switching delay of one transport node.
        route_factor: cable length over straight-line distance (>= 1).
    """

    us_per_km: float
    per_hop_s: float
    route_factor: float

    @classmethod
    def from_params(cls, params: FibreParams) -> FibreLink:
        """The link of a ``channels.fibre`` section."""
        return cls(us_per_km=params.us_per_km, per_hop_s=params.per_hop_s,
                   route_factor=params.route_factor)

    def delay_s(self, distance_m: ArrayLike, hops: ArrayLike) -> NDArray[np.float64]:
        """One-way delay, deterministic and vectorised.

        ``distance_m / 1000 * route_factor * us_per_km * 1e-6 + hops * per_hop_s``.
        Arguments broadcast.
        """
        propagation_s = _as_float(distance_m) / 1000.0 * self.route_factor * self.us_per_km * 1e-6
        return propagation_s + _as_float(hops) * self.per_hop_s


@dataclass(frozen=True, slots=True)
class WanPath:
    """The wide-area path from the zone's edge to the cloud platform.

    Attributes:
        fibre: the fibre model the path is made of.
        distance_m: straight-line distance to the cloud.
        hops: transport nodes on the way.
    """

    fibre: FibreLink
    distance_m: float
    hops: int
    delay_s: float = field(init=False)
    """One-way delay, a constant: ``fibre.delay_s(distance_m, hops)`` (worked out once)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "delay_s",
                           float(self.fibre.delay_s(self.distance_m, self.hops)))

    @classmethod
    def from_params(cls, fibre: FibreLink, cloud: CloudSection) -> WanPath:
        """The path to the cloud of a ``cloud`` section.

        Distance and hops are the tier's unless the section overrides them.
        """
        distance_km, hops = cloud.path()
        return cls(fibre=fibre, distance_m=distance_km * 1000.0, hops=hops)

