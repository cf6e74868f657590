"""Bundled scenarios, shipped inside the package and listed by ``v2x-sim scenarios``."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from v2x_sim._core.suggest import closest, did_you_mean


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


def bundled_scenario(name: str) -> Path | None:
    """The file of the bundled scenario ``name`` (``quickstart``), or None.

    Only a bare name qualifies: no folder, no suffix.
    """
    candidate = Path(name)
    if not name or candidate.suffix or len(candidate.parts) != 1:
        return None
    bundled = _preset_dir() / f"{candidate}.yaml"
    return bundled if bundled.is_file() else None


def bundled_scenario_hint(name: str) -> str:
    """``"; did you mean 'quickstart'?"`` for a misspelt bundled name, else their list."""
    names = [path.stem for path in sorted(_preset_dir().glob("*.yaml"))]
    hint = did_you_mean(Path(name).stem, names)
    return f"; {hint}" if hint else f" (bundled: {', '.join(names)})"


def missing_scenario_reason(path: str | Path) -> str:
    """Why ``path`` names no scenario, with the closest file or bundled name."""
    candidate = Path(path)
    if len(candidate.parts) == 1 and not candidate.suffix:
        hint = bundled_scenario_hint(str(path))
        return f"file not found, and no bundled scenario of that name{hint}"
    folder = candidate.parent
    if folder.is_dir():
        siblings = [p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml")]
        best = closest(candidate.name, siblings)
        if best is not None:
            return f"file not found; did you mean {str(folder / best)!r}?"
    return "file not found"


def resolve_scenario_path(path: str | Path) -> Path:
    """A scenario file path; a bare bundled name (``quickstart``) resolves to the preset."""
    candidate = Path(path)
    if candidate.exists():
        return candidate
    bundled = bundled_scenario(str(path))
    return bundled if bundled is not None else candidate
