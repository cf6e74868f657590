"""Golden output schemas: every CSV column and JSON key we write, with its type.

The sample runs of `output_schema.py` are written to disk as users get them and their
schema is compared with ``tests/schemas/``: a renamed, removed or added column or key
fails here, naming the file and showing the difference.
"""

from __future__ import annotations

import pytest
from output_schema import SCHEMA_DIR, SUFFIX, differences, sample_outputs

HOW_TO = ("output schema changed. If intended: run `python tests/output_schema.py` to see "
          "the difference, `python tests/output_schema.py --write` to update tests/schemas/, "
          "and add a line under 'Unreleased' in CHANGELOG.md (users' scripts read these files)")


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return sample_outputs(tmp_path_factory.mktemp("schemas"))


def test_every_output_file_has_a_schema(current: dict) -> None:
    """Every file the samples write is covered, and no schema is left for a file that is
    no longer written."""
    stored = {p.name.removesuffix(SUFFIX) for p in SCHEMA_DIR.glob(f"*{SUFFIX}")}
    assert set(current) == stored, HOW_TO


def test_outputs_match_their_golden_schemas(current: dict) -> None:
    diff = differences(current)
    assert not diff, f"{', '.join(diff)}: {HOW_TO}\n" + "\n".join(diff.values())


def test_a_renamed_column_is_reported(current: dict) -> None:
    """The check itself: renaming trips.csv's ``delay_s`` shows up as a difference."""
    changed = dict(current)
    changed["trips.csv"] = {"columns": [c.replace("delay_s", "lateness_s")
                                        for c in current["trips.csv"]["columns"]]}
    diff = differences(changed, stored=current)
    assert list(diff) == ["trips.csv"]
    assert '-  "delay_s: float|null",' in diff["trips.csv"].splitlines()
    assert '+  "lateness_s: float|null",' in diff["trips.csv"].splitlines()
