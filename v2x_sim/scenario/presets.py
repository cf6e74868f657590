"""Bundled scenarios, shipped inside the package and listed by ``v2x-sim scenarios``."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml


@dataclass(frozen=True, slots=True)
class Preset:
    """A bundled scenario: its name, file and one-line description."""

    name: str
    path: Path
    description: str


def _preset_dir() -> Path:
    return Path(str(resources.files("v2x_sim.scenario") / "presets"))


def list_presets() -> list[Preset]:
    """Every bundled scenario, sorted by name."""
    presets = []
    for path in sorted(_preset_dir().glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        description = str(data.get("description", "")).strip().splitlines()
        presets.append(Preset(path.stem, path, description[0] if description else ""))
    return presets


def resolve_scenario_path(path: str | Path) -> Path:
    """A scenario file path; a bare bundled name (``quickstart``) resolves to the preset."""
    candidate = Path(path)
    if candidate.exists() or candidate.suffix or len(candidate.parts) > 1:
        return candidate
    bundled = _preset_dir() / f"{candidate}.yaml"
    return bundled if bundled.exists() else candidate
