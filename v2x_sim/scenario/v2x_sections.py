"""Scenario sections for the road-vehicle-cloud loop: devices, channels, edge, cloud, messages.

Defaults carry their sources (``../shared/DOMAIN.md``); values marked "assumed" are
scenario parameters chosen for plausibility, not facts the tool asserts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from v2x_sim.scenario.base import (
    LinkId,
    NonNegativeFloat,
    PositiveFloat,
    Probability,
    Section,
)

PositiveInt = Annotated[int, Field(strict=True, ge=1)]


class SensorKind(StrEnum):
    """Roadside sensor types."""

    CAMERA = "camera"
    RADAR = "radar"
    LIDAR = "lidar"


class Position(Section):
    """A point in network coordinates (metres)."""

    x_m: float
    y_m: float


class DevicePosition(Section):
    """Where one device stands: a point (snapped to the nearest road) or a place on a link.

    ``{x_m: 120, y_m: 40}``, or ``{link: "-12345#0", offset_m: 80}`` (metres from the
    link's start; default its middle), naming the link by its id in the network files.
    """

    x_m: float | None = None
    y_m: float | None = None
    link: LinkId | None = None
    offset_m: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _point_or_link(self) -> DevicePosition:
        point = self.x_m is not None or self.y_m is not None
        if self.link is not None and point:
            raise ValueError("give either x_m and y_m, or link (and offset_m), not both")
        if self.link is None and (self.x_m is None or self.y_m is None):
            raise ValueError("needs x_m and y_m, or link (and optionally offset_m)")
        if self.link is None and self.offset_m is not None:
            raise ValueError("offset_m goes with link")
        return self


RoadClassName = Literal["arterial", "expressway", "ramp"]
"""A road's functional class as written in YAML (`v2x_sim.road.network.RoadClass`)."""


class Placement(Section):
    """Where devices go.

    Every ``spacing_m`` along the roads, ``count`` spread over the network in proportion
    to road length, at explicit ``positions`` (points snapped to the nearest road, or
    places on named links), or ``signalised_approaches``: one at the stop line (the end)
    of every link that ends at a signal. ``road_classes`` limits ``spacing`` and
    ``count`` to roads of those classes (e.g. ``[expressway]``; empty: every road).
    """

    mode: Literal["spacing", "count", "list", "signalised_approaches"] = "spacing"
    spacing_m: PositiveFloat = 300.0
    count: Annotated[int, Field(strict=True, ge=0)] = 0
    positions: list[DevicePosition] = Field(default_factory=list)
    road_classes: list[RoadClassName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _list_given(self) -> Placement:
        if self.mode == "list" and not self.positions:
            raise ValueError("mode 'list' needs positions: [{x_m: ..., y_m: ...}, ...]")
        if self.road_classes and self.mode not in ("spacing", "count"):
            raise ValueError(f"road_classes applies to modes spacing and count, not "
                             f"{self.mode!r}")
        return self


class RsuParams(Section):
    """Roadside units: PC5 radios on the road, wired to an edge node."""

    placement: Placement = Field(default_factory=lambda: Placement(spacing_m=300.0))
    range_m: PositiveFloat = Field(
        default=400.0,
        description="Coverage radius for assigning vehicles (the delivery ratio still falls "
        "with distance, see channels.pc5).",
    )


SENSOR_DEFAULTS: dict[SensorKind, dict[str, float]] = {
    # Assumed from typical data sheets (unconfirmed, scenario parameters): traffic video
    # detection ~150 m per camera, speeds within ~5 km/h, counts 95-98 % complete;
    # long-range traffic radar ~250 m, Doppler speed within ~1 km/h; roadside lidar
    # ~100 m on vehicles, speed from tracks within ~1 km/h, few ghosts.
    SensorKind.CAMERA: {"range_m": 150.0, "speed_sigma_mps": 1.5, "miss_probability": 0.05,
                        "false_per_hour": 30.0},
    SensorKind.RADAR: {"range_m": 250.0, "speed_sigma_mps": 0.3, "miss_probability": 0.03,
                       "false_per_hour": 10.0},
    SensorKind.LIDAR: {"range_m": 100.0, "speed_sigma_mps": 0.3, "miss_probability": 0.02,
                       "false_per_hour": 5.0},
}
"""Per-kind defaults of the fields a sensor group leaves out (see `SensorParams`)."""


class SensorParams(Section):
    """One group of roadside sensors of a kind.

    A sensor watches the road it stands on, both directions, up to ``range_m`` either
    side of its position (its zone), and reports what it sees there: vehicles counted,
    their spot speeds, the stopped ones and occupancy. Noise per sensor: each spot speed
    off by a normal error of ``speed_sigma_mps``, each vehicle missed with
    ``miss_probability``, and ghost tracks appearing at ``false_per_hour`` (each present
    for as long as a free-flowing vehicle needs to cross the zone). Left-out range and
    noise take the kind's defaults (`SENSOR_DEFAULTS`). ``detection_probability`` is per
    frame, for seeing a hazard (the fast loop).
    """

    kind: SensorKind = SensorKind.CAMERA
    placement: Placement = Field(default_factory=lambda: Placement(spacing_m=400.0))
    range_m: PositiveFloat = 150.0
    detection_probability: Probability = 0.9
    frame_rate_hz: PositiveFloat = 10.0
    speed_sigma_mps: NonNegativeFloat = 1.5
    miss_probability: Annotated[float, Field(strict=True, ge=0, lt=1)] = 0.05
    false_per_hour: NonNegativeFloat = 30.0

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        try:
            kind = SensorKind(data.get("kind", SensorKind.CAMERA))
        except ValueError:
            return data  # the kind field reports it
        return {**SENSOR_DEFAULTS[kind], **data}


def _default_sensors() -> list[SensorParams]:
    # assumed: cameras every 400 m, radars every 600 m of road (each direction shares one)
    return [
        SensorParams(kind=SensorKind.CAMERA, placement=Placement(spacing_m=400.0),
                     detection_probability=0.9, frame_rate_hz=10.0),
        SensorParams(kind=SensorKind.RADAR, placement=Placement(spacing_m=600.0),
                     range_m=200.0, detection_probability=0.95, frame_rate_hz=10.0),
    ]


class RoadsideSection(Section):
    """RSUs and sensors; each sensor is wired to its nearest RSU."""

    rsu: RsuParams = Field(default_factory=RsuParams)
    sensors: list[SensorParams] = Field(default_factory=_default_sensors)
    sensor_link_s: NonNegativeFloat = Field(
        default=0.0005, description="Sensor to RSU over local Ethernet (assumed 0.5 ms)."
    )


class Pc5Params(Section):
    """PC5 sidelink between vehicles and RSUs.

    Delivery ratio falls with distance as a logistic curve with its midpoint at the median
    range, times (1 - collision share x CBR); the channel busy ratio (CBR) of an RSU is
    transmitters in range x rate x air time. Delay = air time + an exponential access
    delay whose mean grows as ``access_delay_s / (1 - CBR)``.
    """

    median_range_m: PositiveFloat = 290.0  # 23 dBm, WINNER+ B1, -85 dBm (Sepulcre 2021)
    range_spread_m: PositiveFloat = 40.0  # assumed width of the logistic fall-off
    airtime_s: PositiveFloat = 0.0005  # 300 B at 6 Mb/s plus preamble (derived)
    access_delay_s: PositiveFloat = 0.002  # assumed mean access delay on an idle channel
    collision_loss_at_full_load: Probability = 0.5  # assumed
    max_cbr: Annotated[float, Field(strict=True, gt=0, lt=1)] = 0.95


class UuProfile(StrEnum):
    """Cellular generations with built-in delay and loss profiles."""

    LTE = "lte"
    NR = "nr"


UU_PROFILES: dict[UuProfile, dict[str, float]] = {
    # peer's example: uplink 100 ms, downlink 50 ms (Eclipse MOSAIC cell example)
    UuProfile.LTE: {"uplink_mean_s": 0.100, "downlink_mean_s": 0.050, "loss": 0.01},
    # 5G eMBB user-plane target 4 ms one way (ITU-R M.2410); loss assumed
    UuProfile.NR: {"uplink_mean_s": 0.004, "downlink_mean_s": 0.004, "loss": 0.001},
}


class UuParams(Section):
    """Cellular link between vehicle and base station.

    Delay = half the mean, fixed, plus an exponential with the other half as its mean;
    fields left empty come from the profile.
    """

    profile: UuProfile = UuProfile.NR
    uplink_mean_s: PositiveFloat | None = None
    downlink_mean_s: PositiveFloat | None = None
    loss: Probability | None = None

    def resolved(self, name: str) -> float:
        """A field's value, or the profile's when left empty."""
        value = getattr(self, name)
        return float(value if value is not None else UU_PROFILES[self.profile][name])


class FibreParams(Section):
    """Wired backhaul: propagation plus switching per transport node."""

    us_per_km: PositiveFloat = 5.0  # Coll-Perales et al., IEEE TVT 2022
    per_hop_s: NonNegativeFloat = 0.0002  # same source
    route_factor: Annotated[float, Field(strict=True, ge=1)] = 1.3  # assumed cable detour
    rsu_hops: Annotated[int, Field(strict=True, ge=0)] = 2  # RSU -> aggregation -> edge


class ChannelsSection(Section):
    """The radio and wired links."""

    pc5: Pc5Params = Field(default_factory=Pc5Params)
    uu: UuParams = Field(default_factory=UuParams)
    fibre: FibreParams = Field(default_factory=FibreParams)


class ServiceDistribution(StrEnum):
    """Service-time distributions (all parameterised by their mean)."""

    DETERMINISTIC = "deterministic"
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


class ServiceParams(Section):
    """Processing time of one message on one core."""

    mean_s: PositiveFloat
    distribution: ServiceDistribution = ServiceDistribution.DETERMINISTIC
    cv: PositiveFloat = 0.5  # coefficient of variation, lognormal only


def _edge_service() -> dict[str, ServiceParams]:
    return {
        # 300 B x 200 cycles/bit at 3.6 GHz (DOMAIN.md, derived)
        "bsm": ServiceParams(mean_s=0.00013),
        # object-level fusion of one sensor frame (assumed)
        "perception": ServiceParams(mean_s=0.001),
        # hazard confirmation and warning composition (assumed)
        "hazard_warning": ServiceParams(mean_s=0.002),
        # composing one aggregate of the links its sensors watch (assumed)
        "aggregate": ServiceParams(mean_s=0.001),
    }


class EdgeFailover(StrEnum):
    """Where a failed edge node's RSUs send their traffic."""

    NEIGHBOUR = "neighbour"
    CLOUD = "cloud"
    NONE = "none"


class EdgeSection(Section):
    """Edge compute nodes (MEC).

    Each serves the RSUs nearest to it with ``cores`` cores and one FIFO queue.
    """

    nodes: PositiveInt = 2
    positions: list[Position] = Field(default_factory=list)
    cores: PositiveInt = 8
    service: dict[str, ServiceParams] = Field(default_factory=_edge_service)
    failover: EdgeFailover = Field(
        default=EdgeFailover.NEIGHBOUR, description="Where a failed node's RSUs send their "
        "traffic (faults: edge_down): the nearest healthy node over the longer fibre path, "
        "the cloud over the WAN, or nowhere (lost, reason outage).")
    failover_hops: Annotated[int, Field(strict=True, ge=0)] = Field(
        default=2, description="Transport nodes the longer path to a neighbour adds (its "
        "fibre runs site to site at channels.fibre's delay per km and per hop).")

    @field_validator("positions")
    @classmethod
    def _positions_match(cls, positions: list[Position], info: ValidationInfo) -> list[Position]:
        nodes = info.data.get("nodes")
        if positions and nodes is not None and len(positions) != nodes:
            raise ValueError(f"{len(positions)} positions given for {nodes} nodes")
        return positions

    @field_validator("service")
    @classmethod
    def _every_kind_served(cls, service: dict[str, ServiceParams]) -> dict[str, ServiceParams]:
        missing = {"bsm", "perception", "hazard_warning"} - set(service)
        if missing:
            raise ValueError(f"needs entries for {', '.join(sorted(missing))}")
        return service


class CloudTier(StrEnum):
    """Cloud-control tiers: edge cloud, regional cloud, central cloud."""

    EDGE = "edge"
    REGIONAL = "regional"
    CENTRAL = "central"


# base station -> aggregation 3-15 km, regional ~75 km, central ~275 km (Coll-Perales 2022;
# the mapping of those distances to cloud-control tiers is ours)
CLOUD_TIERS: dict[CloudTier, tuple[float, int]] = {
    CloudTier.EDGE: (10.0, 2),
    CloudTier.REGIONAL: (75.0, 4),
    CloudTier.CENTRAL: (275.0, 6),
}


def _cloud_service() -> dict[str, ServiceParams]:
    return {
        "status": ServiceParams(mean_s=0.0002),
        "aggregate": ServiceParams(mean_s=0.002),
        # registering an edge node's hazard report or clearance (assumed, like a status)
        "hazard_report": ServiceParams(mean_s=0.0002),
        # one policy run: shortest-path tables for the destinations in play (assumed;
        # ~0.5 ms per all-destination table on a 360-link network, ARCHITECTURE.md)
        "decision": ServiceParams(mean_s=0.01),
        # composing and queueing one vehicle's advice (assumed)
        "advice": ServiceParams(mean_s=0.0005),
    }


class CloudSection(Section):
    """The cloud control platform: where it sits (tier), and how fast it ingests."""

    tier: CloudTier = CloudTier.REGIONAL
    distance_km: PositiveFloat | None = None
    hops: Annotated[int, Field(strict=True, ge=0)] | None = None
    cores: PositiveInt = 16
    service: dict[str, ServiceParams] = Field(default_factory=_cloud_service)

    def path(self) -> tuple[float, int]:
        """(distance in km, transport hops) from the zone to the cloud."""
        distance, hops = CLOUD_TIERS[self.tier]
        return (self.distance_km or distance, hops if self.hops is None else self.hops)


class PeriodicMessage(Section):
    """A message kind sent periodically."""

    enabled: bool = True
    rate_hz: PositiveFloat
    size_bytes: PositiveInt
    deadline_s: PositiveFloat


class MessagesSection(Section):
    """Message kinds: rates, sizes and deadlines (TS 22.185: 10 Hz, 50-300 B, 100 ms)."""

    bsm: PeriodicMessage = Field(default_factory=lambda: PeriodicMessage(
        rate_hz=10.0, size_bytes=300, deadline_s=0.1))
    status: PeriodicMessage = Field(default_factory=lambda: PeriodicMessage(
        rate_hz=1.0, size_bytes=300, deadline_s=1.0))
    perception_deadline_s: PositiveFloat = 0.1
    aggregate: PeriodicMessage = Field(default_factory=lambda: PeriodicMessage(
        rate_hz=0.2, size_bytes=1200, deadline_s=1.0))
    hazard_warning_deadline_s: PositiveFloat = 0.1
    route_advice_deadline_s: PositiveFloat = 1.0  # cloud route guidance, ~1 s (unconfirmed)


class BeliefParams(Section):
    """How the cloud turns samples into link estimates (exponential smoothing)."""

    weight: Annotated[float, Field(strict=True, gt=0, le=1)] = 0.5
    stale_after_s: PositiveFloat = 300.0
    stale_fallback: Literal["last", "free_flow"] = "last"


class ControlSection(Section):
    """The slow loop: which rerouting policy the cloud runs, how often, how advice travels.

    ``policy`` is a built-in name (none, at_departure, dynamic_shortest, oracle) or
    ``package.module:Class``; ``params`` go to its constructor.
    """

    policy: str = "none"
    params: dict[str, Any] = Field(default_factory=dict)
    period_s: PositiveFloat = 60.0
    advice_via: Literal["uu", "edge"] = "uu"
    belief: BeliefParams = Field(default_factory=BeliefParams)
    compliance_model: Literal["driver", "advice"] = Field(
        default="driver",
        description="driver: a vehicle class's compliance is the share of drivers who "
        "follow advice, each drawn once per vehicle; advice: every piece of advice is "
        "followed with that probability, drawn anew each time.")
    forget_vehicle_after_s: PositiveFloat = Field(
        default=10.0, description="A connected vehicle the cloud has had no status report "
        "from for this long is presumed gone and not advised (status is sent at "
        "messages.status.rate_hz, 1 Hz by default).")


class BackgroundLoad(StrEnum):
    """Whether BSMs and sensor frames are simulated as load (``v2x.background``)."""

    FULL = "full"
    OFF = "off"


class V2XSection(Section):
    """Switches for the communication model and the fast (hazard warning) loop."""

    enabled: bool = True
    background: BackgroundLoad = Field(
        default=BackgroundLoad.FULL, description="full: BSMs and sensor frames load the "
        "radio and the edge queues; off: only content-carrying messages (status, "
        "aggregates, requests, advice, hazard reports and warnings) are simulated.")
    tick_s: Annotated[float, Field(strict=True, gt=0, le=5)] = Field(
        default=1.0, description="Window of the periodic flows; positions are exact at each "
        "send, link changes show from the next window.")
    warning_distance_m: PositiveFloat = Field(
        default=1000.0, description="A hazard's warning goes to connected vehicles whose "
        "remaining route reaches the hazard within this distance along the route.")
    warning_repeat_s: NonNegativeFloat = Field(
        default=1.0, description="The edge repeats a warning this often while it believes "
        "the hazard is active (DENM repetition, ETSI EN 302 637-3); 0: broadcast once.")
    warning_reaction: bool = Field(
        default=True, description="Warned connected vehicles react: a compliant driver "
        "facing closed lanes or a stopped queue takes the edge's local detour at the next "
        "node; otherwise the vehicle slows on the hazard link.")
    warning_speed_factor: Annotated[float, Field(strict=True, gt=0, le=1)] = Field(
        default=0.7, description="Speed on the hazard link of a warned vehicle that does "
        "not detour, as a share of the speed it would drive (assumed; 1: no slowing).")

    @field_validator("background", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare ``off`` as false (and ``on`` as true)
        if value is False:
            return BackgroundLoad.OFF
        if value is True:
            return BackgroundLoad.FULL
        return value

    bsm_confirm_s: NonNegativeFloat = 2.0
    queue_tails: bool = Field(default=True, description="Warn of queue tails the edge "
                              "infers from BSMs of connected vehicles standing on a link.")
    queue_tail_vehicles: PositiveInt = 3
    queue_tail_standing_s: PositiveFloat = 60.0  # longer than a red phase
    queue_tail_cooldown_s: PositiveFloat = 300.0


class SweepSection(Section):
    """A parameter study: dotted field paths and the values to try.

    ``mode: grid`` runs every combination of ``parameters``; ``mode: points`` runs the
    listed ``points`` (each a mapping of paths to values). Every point runs on the same
    ``replications`` seeds (replication is the outer loop).
    """

    mode: Literal["grid", "points"] = "grid"
    parameters: dict[str, list[Any]] = Field(default_factory=dict)
    points: list[dict[str, Any]] = Field(default_factory=list)
    replications: PositiveInt = 5

    @model_validator(mode="after")
    def _has_points(self) -> SweepSection:
        if self.mode == "grid" and any(not v for v in self.parameters.values()):
            raise ValueError("every swept parameter needs at least one value")
        if self.mode == "points" and not self.points:
            raise ValueError("mode 'points' needs points: [{path: value, ...}, ...]")
        return self
