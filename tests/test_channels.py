"""Channel models against their configured formulas.

Statistical checks compare seeded samples with theory using data-driven tolerances:
means within a 99 % confidence interval (2.576 standard errors), ratios within 4
standard errors. Exact checks use deterministic mode and hand-derived numbers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from v2x_sim.comms import FibreLink, Pc5Channel, UuChannel, WanPath
from v2x_sim.scenario.v2x_sections import (
    CloudSection,
    CloudTier,
    FibreParams,
    Pc5Params,
    UuParams,
    UuProfile,
)

Z99 = 2.576  # two-sided 99 % normal quantile
N = 200_000


def rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_mean_in_ci99(samples: np.ndarray, theory: float) -> None:
    half_width = Z99 * samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - theory) <= half_width, (samples.mean(), theory, half_width)


def assert_ratio_within_4se(hits: np.ndarray, p: float) -> None:
    se = np.sqrt(p * (1.0 - p) / hits.size)
    assert abs(hits.mean() - p) <= 4.0 * se, (hits.mean(), p, se)


PC5 = Pc5Channel.from_params(Pc5Params())


# (a) delivery versus distance -------------------------------------------------------

def test_pc5_delivery_ratio_is_half_at_median_range() -> None:
    """The logistic curve passes exactly 0.5 at the median range (290 m by default)."""
    assert PC5.distance_delivery_ratio(290.0) == 0.5
    assert PC5.distance_delivery_ratio(PC5.median_range_m) == 0.5
    # one spread beyond the median: 1 / (1 + e)
    assert PC5.distance_delivery_ratio(330.0) == pytest.approx(1.0 / (1.0 + np.e), rel=1e-12)
    # far away the exponential overflows quietly to a ratio of 0
    assert PC5.distance_delivery_ratio(1e6) == 0.0


def test_pc5_delivery_ratio_versus_distance_reproduces_the_curve() -> None:
    """Empirical delivery on an idle channel lies within 4 standard errors of r(d)."""
    distances_m = np.array([50.0, 200.0, 290.0, 350.0, 500.0])
    delivered, _ = PC5.draw(distances_m[:, None], np.zeros((1, N)), rng())
    assert delivered.shape == (distances_m.size, N)
    expected = 1.0 / (1.0 + np.exp((distances_m - 290.0) / 40.0))
    for row, p in zip(delivered, expected, strict=True):
        assert_ratio_within_4se(row, p)


# (b) load ---------------------------------------------------------------------------

def test_pc5_loss_and_delay_rise_with_transmitters_in_range() -> None:
    """More transmitters at 10 Hz: fewer deliveries, longer delay, mean as configured."""
    transmitters = np.array([0, 20, 60, 120])
    cbr = PC5.channel_busy_ratio(transmitters, 10.0)
    # N * 10 Hz * 0.5 ms
    np.testing.assert_allclose(cbr, [0.0, 0.1, 0.3, 0.6], rtol=1e-12)
    generator = rng(11)
    ratios, mean_delays = [], []
    # at 100 m: r = 1 / (1 + e^((100 - 290) / 40)) = 1 / (1 + e^-4.75) = 0.991423, times
    # 1 - 0.5 x CBR; mean delay 0.5 ms + 2 ms / (1 - CBR)
    expected_p = [0.991423, 0.991423 * 0.95, 0.991423 * 0.85, 0.991423 * 0.70]
    expected_delay_s = [0.0025, 0.0005 + 0.002 / 0.9, 0.0005 + 0.002 / 0.7, 0.0005 + 0.002 / 0.4]
    for load, p, mean_s in zip(cbr, expected_p, expected_delay_s, strict=True):
        delivered, delay_s = PC5.draw(np.full(N, 100.0), load, generator)
        ratios.append(delivered.mean())
        mean_delays.append(delay_s.mean())
        assert_mean_in_ci99(delay_s, mean_s)
        assert_ratio_within_4se(delivered, p)
    assert np.all(np.diff(ratios) < 0), ratios
    assert np.all(np.diff(mean_delays) > 0), mean_delays


def test_pc5_cbr_is_capped_at_max_cbr() -> None:
    """CBR never exceeds max_cbr (0.95), however many transmitters are in range."""
    cbr = PC5.channel_busy_ratio(np.array([[100, 190], [191, 10_000]]), 10.0)
    np.testing.assert_allclose(cbr, [[0.5, 0.95], [0.95, 0.95]], rtol=1e-12)
    assert cbr.shape == (2, 2)


def test_pc5_mean_delay_formula() -> None:
    """Mean delay = airtime + access / (1 - CBR): 0.5 ms + 2 ms / 0.4 at CBR 0.6."""
    assert PC5.mean_delay_s(0.0) == pytest.approx(0.0025, rel=1e-12)
    assert PC5.mean_delay_s(0.6) == pytest.approx(0.0055, rel=1e-12)


# (c) Uu -----------------------------------------------------------------------------

@pytest.mark.parametrize("profile", list(UuProfile))
@pytest.mark.parametrize("direction", ["up", "down"])
def test_uu_delay_and_loss_match_profile(profile: UuProfile,
                                         direction: Literal["up", "down"]) -> None:
    """Mean delay within a 99 % CI of the profile's mean; loss within 4 standard errors."""
    channel = UuChannel.from_params(UuParams(profile=profile))
    mean_s = channel.mean_delay_s(direction)
    delivered, delay_s = channel.draw(2 * N, rng(23), direction=direction)
    assert delivered.shape == delay_s.shape == (2 * N,)
    assert_mean_in_ci99(delay_s, mean_s)
    assert delay_s.min() >= 0.5 * mean_s
    assert_ratio_within_4se(~delivered, channel.loss)


def test_uu_profiles_resolve_to_configured_values() -> None:
    """LTE: 100 ms up, 50 ms down, 1 % loss; NR: 4 ms both ways, 0.1 % loss."""
    lte = UuChannel.from_params(UuParams(profile=UuProfile.LTE))
    nr = UuChannel.from_params(UuParams(profile=UuProfile.NR))
    assert (lte.uplink_mean_s, lte.downlink_mean_s, lte.loss) == (0.100, 0.050, 0.01)
    assert (nr.uplink_mean_s, nr.downlink_mean_s, nr.loss) == (0.004, 0.004, 0.001)


def test_uu_explicit_fields_beat_the_profile() -> None:
    """A field set in the section wins; the others still come from the profile."""
    channel = UuChannel.from_params(
        UuParams(profile=UuProfile.LTE, uplink_mean_s=0.02, loss=0.2)
    )
    assert channel == UuChannel(uplink_mean_s=0.02, downlink_mean_s=0.050, loss=0.2)
    delivered, delay_s = channel.draw(N, rng(5), direction="up")
    assert_mean_in_ci99(delay_s, 0.02)
    assert_ratio_within_4se(~delivered, 0.2)


def test_uu_rejects_unknown_direction() -> None:
    with pytest.raises(ValueError, match="direction"):
        UuChannel(0.1, 0.05, 0.01).mean_delay_s("sideways")  # type: ignore[arg-type]


# (d) fibre and WAN ------------------------------------------------------------------

FIBRE = FibreLink.from_params(FibreParams())


def test_fibre_delay_by_hand() -> None:
    """10 km, 2 hops: 10 x 1.3 x 5 us + 2 x 0.2 ms = 0.465 ms."""
    assert FIBRE.delay_s(10_000.0, 2) == pytest.approx(0.000465, rel=1e-12)
    assert FIBRE.delay_s(0.0, 0) == 0.0


def test_fibre_delay_is_vectorised() -> None:
    """Arrays of distances and hops broadcast to one array of delays."""
    distance_m = np.array([0.0, 10_000.0, 75_000.0, 275_000.0])
    hops = np.array([1, 2, 4, 6])
    expected = [0.0002, 0.000465, 0.0012875, 0.0029875]
    np.testing.assert_allclose(FIBRE.delay_s(distance_m, hops), expected, rtol=1e-12)
    grid = FIBRE.delay_s(distance_m[:, None], np.array([[0, 1]]))
    assert grid.shape == (4, 2)
    np.testing.assert_allclose(grid[:, 1] - grid[:, 0], 0.0002, rtol=1e-12)


@pytest.mark.parametrize(
    ("tier", "expected_s"),
    [
        (CloudTier.EDGE, 10 * 1.3 * 5e-6 + 2 * 0.0002),  # 0.465 ms
        (CloudTier.REGIONAL, 75 * 1.3 * 5e-6 + 4 * 0.0002),  # 1.2875 ms
        (CloudTier.CENTRAL, 275 * 1.3 * 5e-6 + 6 * 0.0002),  # 2.9875 ms
    ],
)
def test_wan_path_per_tier(tier: CloudTier, expected_s: float) -> None:
    """The edge-cloud path of each tier: its distance and hops through the fibre model."""
    path = WanPath.from_params(FIBRE, CloudSection(tier=tier))
    assert isinstance(path.delay_s, float)
    assert path.delay_s == pytest.approx(expected_s, rel=1e-12)


def test_wan_path_section_overrides_tier() -> None:
    """Explicit distance and hops replace the tier's: 100 km, 0 hops = 0.65 ms."""
    path = WanPath.from_params(FIBRE, CloudSection(tier=CloudTier.CENTRAL, distance_km=100.0,
                                                   hops=0))
    assert (path.distance_m, path.hops) == (100_000.0, 0)
    assert path.delay_s == pytest.approx(100 * 1.3 * 5e-6, rel=1e-12)


# (e) deterministic mode -------------------------------------------------------------

def test_pc5_deterministic_mode_uses_means_and_threshold() -> None:
    """Delay equals its mean exactly; delivered iff probability >= 0.5; rng untouched."""
    generator = rng()
    before = generator.bit_generator.state
    distance_m = np.array([289.0, 290.0, 291.0, 250.0, 250.0])
    cbr = np.array([0.0, 0.0, 0.0, 0.6, 0.95])
    delivered, delay_s = PC5.draw(distance_m, cbr, generator, deterministic=True)
    # r(250) = 1 / (1 + e^-1) = 0.731: x 0.7 = 0.512 delivered, x 0.525 = 0.384 lost
    assert delivered.tolist() == [True, True, False, True, False]
    # delay = 0.5 ms + 2 ms / (1 - CBR) exactly: 2.5 ms idle, 5.5 ms at 0.6, 40.5 ms at 0.95
    np.testing.assert_allclose(delay_s, [0.0025, 0.0025, 0.0025, 0.0055, 0.0405], rtol=1e-9)
    assert generator.bit_generator.state == before


@pytest.mark.parametrize(("loss", "delivered"), [(0.001, True), (0.5, True), (0.6, False)])
def test_uu_deterministic_mode(loss: float, delivered: bool) -> None:
    """Delay = the configured mean; all delivered iff 1 - loss >= 0.5."""
    channel = UuChannel(uplink_mean_s=0.004, downlink_mean_s=0.05, loss=loss)
    ok, delay_s = channel.draw(3, rng(), direction="down", deterministic=True)
    assert ok.tolist() == [delivered] * 3
    assert delay_s.tolist() == [0.05] * 3


# (f) reproducibility and shapes -----------------------------------------------------

def test_same_seed_gives_identical_draws() -> None:
    """Two generators from one seed yield the same fates; another seed does not."""
    distance_m = np.linspace(0.0, 600.0, 1000)
    first = PC5.draw(distance_m, 0.3, rng(42))
    again = PC5.draw(distance_m, 0.3, rng(42))
    other = PC5.draw(distance_m, 0.3, rng(43))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    uu = UuChannel.from_params(UuParams())
    for a, b in zip(uu.draw(500, rng(42), direction="up"), uu.draw(500, rng(42), direction="up"),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_pc5_draw_broadcasts_distance_and_cbr() -> None:
    """Distance (3, 1) and per-column CBR (1, 4) give (3, 4) arrays of bools and floats."""
    distance_m = np.array([[50.0], [290.0], [500.0]])
    cbr = np.array([[0.0, 0.1, 0.5, 0.9]])
    for deterministic in (False, True):
        delivered, delay_s = PC5.draw(distance_m, cbr, rng(), deterministic=deterministic)
        assert delivered.shape == delay_s.shape == (3, 4)
        assert delivered.dtype == np.bool_
        assert delay_s.dtype == np.float64
        assert np.all(delay_s >= PC5.airtime_s)


def test_pc5_per_message_draws_are_the_documented_draws() -> None:
    """One distance and load per message takes a shortcut; its draws must not change.

    The documented draws, with the same seed: delivered = U < p(d, cbr) for one uniform
    per message, then delay = airtime + Exponential(scale = access / (1 - cbr)) drawn
    with numpy's ``exponential`` and its array of scales: the same fates and delays to
    the last bit, and the generator left in the same state.
    """
    gen = np.random.default_rng(3)
    distance_m = gen.uniform(0.0, 600.0, 5000)
    cbr = gen.uniform(0.0, 0.9, 5000)
    fast, reference = rng(11), rng(11)
    ok_fast, delay_fast = PC5.draw(distance_m, cbr, fast)
    ok_ref = reference.random(5000) < PC5.delivery_probability(distance_m, cbr)
    delay_ref = PC5.airtime_s + reference.exponential(PC5.access_delay_s / (1.0 - cbr))
    assert ok_fast.tobytes() == ok_ref.tobytes()
    assert delay_fast.tobytes() == delay_ref.tobytes()
    assert fast.random() == reference.random()
    assert 0.05 < 1.0 - ok_fast.mean() < 0.95  # both fates occur
