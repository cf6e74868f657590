"""Optimisations change no result: a fixed-seed run equals the pinned one, bit for bit.

The pin (`tests/golden/identity.json`) holds the summary and a digest of every output
table of `tests/golden/identity_scenario.yaml` (every part of the model on) in two
variants; `tests/identity_pin.py` explains it. After a commit that changes the model's
results on purpose: ``python tests/identity_pin.py --write`` and say why in its message.
"""

from __future__ import annotations

import json

import identity_pin
import pytest


@pytest.mark.parametrize("variant", list(identity_pin.VARIANTS))
def test_a_fixed_seed_run_equals_the_pin(variant: str) -> None:
    pinned = json.loads(identity_pin.PIN.read_text(encoding="utf-8"))[variant]
    diff = identity_pin.differences(pinned, identity_pin.fingerprint(variant))
    assert not diff, ("results changed for a fixed seed (re-pin with `python "
                      "tests/identity_pin.py --write` only for a legitimate model change):\n"
                      + "\n".join(diff[:20]))


def test_the_comparison_sees_a_change_in_the_last_digit() -> None:
    pinned = json.loads(identity_pin.PIN.read_text(encoding="utf-8"))["defaults"]
    changed = json.loads(json.dumps(pinned))
    mean = changed["summary"]["travel_time_mean_s"]
    changed["summary"]["travel_time_mean_s"] = mean + abs(mean) * 2.0 ** -52
    changed["tables"]["trips"]["vehicle"] = "0" * 16
    assert changed["summary"]["travel_time_mean_s"] != mean
    diff = identity_pin.differences(pinned, changed)
    assert [d.split(":")[0] for d in diff] == [".summary.travel_time_mean_s",
                                                ".tables.trips.vehicle"]
