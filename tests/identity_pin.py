"""The identity pin: a fixed-seed run whose every result must survive an optimisation.

Runs ``tests/golden/identity_scenario.yaml`` (a small district with every part of the
model on: all periodic flows, sensors, hazards, rerouting, a shuttle, fault windows)
in two variants, the defaults (deterministic service times) and random service times
everywhere, and reduces each run to its ``summary.json`` content (minus the version)
plus one SHA-256 digest per output table over its columns' exact bytes. Floats are
compared exactly: a speed-up must give the same numbers, bit for bit.

    python tests/identity_pin.py            # compare a fresh run with the pin
    python tests/identity_pin.py --write    # re-pin after a LEGITIMATE model change

Re-pin only when a commit changes the model's results on purpose, and say why in its
message; `tests/test_identity.py` runs the comparison in the suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "golden" / "identity_scenario.yaml"
PIN = HERE / "golden" / "identity.json"

_RANDOM = {"distribution": "exponential"}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    # every service time drawn (the sensor frames' pattern is then redrawn per window)
    "random_service": {
        "edge.service": {"bsm": {"mean_s": 0.00013, **_RANDOM},
                         "perception": {"mean_s": 0.001, **_RANDOM},
                         "hazard_warning": {"mean_s": 0.002, **_RANDOM},
                         "aggregate": {"mean_s": 0.001, **_RANDOM}},
    },
}


def _digest(column: np.ndarray) -> str:
    """SHA-256 of a column's dtype, shape and exact bytes (strings via their UTF-8)."""
    array = np.asarray(column)
    h = hashlib.sha256(f"{array.dtype.kind}{array.shape}".encode())
    if array.dtype.kind in "OUS":
        h.update("\x1f".join(str(v) for v in array.tolist()).encode())
    else:
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


def fingerprint(variant: str) -> dict[str, Any]:
    """One variant's run, reduced to its summary and a digest per table column."""
    import v2x_sim

    scenario = v2x_sim.load_scenario(str(SCENARIO), VARIANTS[variant])
    result = v2x_sim.run(scenario)
    summary = json.loads(json.dumps(result.summary, default=str))
    summary.pop("v2x_sim_version", None)
    tables = {name: {col: _digest(values) for col, values in table.items()}
              for name, table in sorted(result.all_tables().items())}
    return {"summary": summary, "tables": tables}


def fresh() -> dict[str, Any]:
    """Every variant's fingerprint, as the pin stores them."""
    return {variant: fingerprint(variant) for variant in VARIANTS}


def differences(pinned: Any, now: Any, path: str = "") -> list[str]:
    """Paths where two fingerprints differ, with both values (empty: identical)."""
    if isinstance(pinned, dict) and isinstance(now, dict):
        out = []
        for key in sorted(set(pinned) | set(now), key=str):
            if key not in now:
                out.append(f"{path}.{key}: pinned {pinned[key]!r}, now missing")
            elif key not in pinned:
                out.append(f"{path}.{key}: not pinned, now {now[key]!r}")
            else:
                out += differences(pinned[key], now[key], f"{path}.{key}")
        return out
    if isinstance(pinned, list) and isinstance(now, list) and len(pinned) == len(now):
        return [d for i, (a, b) in enumerate(zip(pinned, now, strict=True))
                for d in differences(a, b, f"{path}[{i}]")]
    return [] if pinned == now else [f"{path}: pinned {pinned!r}, now {now!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="store a fresh run as the pin (after a legitimate model change)")
    args = parser.parse_args()
    now = fresh()
    if args.write:
        PIN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"pinned {', '.join(now)} in {PIN}")
        return 0
    diff = differences(json.loads(PIN.read_text(encoding="utf-8")), now)
    print("\n".join(diff[:50]) if diff else "identical to the pin")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
