"""The compiled status path (`compute.status_kernel`) equals the numpy steps it replaced.

The numpy steps are written out here as they stood in `BackgroundFlows._status`: who
sends when (`send_times`), keep the delivered ones, arrival = born + air + WAN, the
probe's completed link kept only if it was left within the last period, then a stable
argsort by arrival. The compiled calls must give the same rows bit for bit, so a run's
results do not move (the identity pin checks a whole run; this checks the edge cases:
ties in arrival, sends on window boundaries, vehicles without a completed link).
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.comms.flows import send_times
from v2x_sim.compute.status_kernel import periodic_sends, status_rows


def numpy_rows(who, born, ok, up, wan_s, ids, link, probe, period_s):  # type: ignore[no-untyped-def]
    """The numpy steps of the status path before it was compiled."""
    born, up, who = born[ok], up[ok], who[ok]
    arrival = born + up + np.full(born.size, wan_s)
    vehicle = ids[who]
    if probe is not None:
        done_link, travel, exited = (column[who] for column in probe)
        new = (done_link >= 0) & (exited > born - period_s) & (exited <= born)
        done_link = np.where(new, done_link, -1)
    else:
        done_link, travel, exited = np.full(born.size, -1), np.zeros(born.size), born
    order = np.argsort(arrival, kind="stable")
    content = {"vehicle": vehicle, "link": link[who], "born_s": born, "done_link": done_link,
               "travel_s": travel, "exited_s": exited}
    return arrival[order], {k: v[order] for k, v in content.items()}, up


@pytest.mark.parametrize(("period_s", "start_s", "end_s"), [
    (1.0, 0.0, 2.0), (1.0, 1998.0, 2000.0), (0.5, 3.25, 4.0), (2.0, 7.0, 8.5),
    (1.0, 5.0, 5.0), (3.0, 10.0, 10.4)])
def test_status_sends_equal_send_times(period_s: float, start_s: float, end_s: float) -> None:
    """Rule: the same (sender, instant) pairs in the same order, bit for bit, for windows
    shorter and longer than the period, empty windows and ids up to 10^6."""
    rng = np.random.default_rng(3)
    ids = np.unique(rng.integers(0, 1_000_000, 3000))
    want_who, want_born = send_times(ids, period_s, start_s, end_s)
    who, born = periodic_sends(ids, period_s, start_s, end_s)
    assert want_who.size == who.size
    if end_s > start_s:
        assert who.size > 0
    np.testing.assert_array_equal(who, want_who)
    assert born.tobytes() == want_born.tobytes()


@pytest.mark.parametrize("with_probe", [True, False])
def test_status_rows_equal_the_numpy_steps(with_probe: bool) -> None:
    """Rule: same arrival order (stable: equal arrivals keep send order) and content.

    Send instants and air delays are drawn from a few values so that many arrivals tie;
    a fifth of the reports are lost; completed links are left at random times around
    the period so that some are new and some are not, some vehicles have none (-1, NaN).
    """
    rng = np.random.default_rng(11)
    ids = np.sort(rng.choice(50_000, 900, replace=False))
    link = rng.integers(0, 400, ids.size)
    who = np.sort(rng.integers(0, ids.size, 1800))
    born = 100.0 + 0.25 * rng.integers(0, 8, who.size)
    ok = rng.random(born.size) < 0.8
    up = rng.choice([0.004, 0.005, 0.0075, 0.01], born.size)
    probe = None
    if with_probe:
        last = np.where(rng.random(ids.size) < 0.3, -1, rng.integers(0, 400, ids.size))
        # exits on the quarter seconds: some exactly at a send instant (new) or exactly
        # one period before it (not new): the bounds of (sent - period, sent]
        exited = np.where(last >= 0, 99.0 + 0.25 * rng.integers(0, 14, ids.size), np.nan)
        probe = (last, rng.random(ids.size) * 60.0, exited)
    arrival, content, up_kept = status_rows(who, born, ok, up, 0.003, (ids, link), probe, 1.0)
    want_arrival, want_content, want_up = numpy_rows(who, born, ok, up, 0.003, ids, link,
                                                     probe, 1.0)
    assert arrival.tobytes() == want_arrival.tobytes()
    assert up_kept.tobytes() == want_up.tobytes()
    assert sorted(content) == sorted(want_content)
    for name, column in want_content.items():
        np.testing.assert_array_equal(content[name], column, err_msg=name)
    # the case is not trivial: ties, losses and both kinds of completed link occur
    assert np.unique(want_arrival).size < want_arrival.size
    assert ok.sum() < ok.size
    if with_probe:
        done = want_content["done_link"]
        assert (done >= 0).any()
        assert (done == -1).sum() > (probe[0][who[ok]] == -1).sum()
