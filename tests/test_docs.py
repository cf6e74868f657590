"""The documentation works: the site builds without warnings, the tutorials and the API
examples run, and every relative link (README, changelog, docs) resolves in the repo."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
MARKDOWN = [REPO / "README.md", REPO / "CHANGELOG.md", *PAGES]


def _tutorial(name: str) -> ModuleType:
    path = REPO / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"tutorial_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- the site
def test_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: any warning (a broken link, a docstring mkdocstrings
    cannot read, a missing snippet) fails the build, and so this test."""
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(REPO / "mkdocs.yml"), "-d", str(site)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "WARNING" not in output, output
    cli = (site / "guide" / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("run", "validate", "schema", "compare", "import"):  # the generated help
        assert f"v2x-sim {command}" in cli
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "Load and validate a scenario YAML" in api  # a docstring, through the lazy API
    tutorial = (site / "tutorials" / "quickstart" / "index.html").read_text(encoding="utf-8")
    assert "write_results" in tutorial  # a snippet of the tutorial script


# ---------------------------------------------------------------------------- tutorials
@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_tutorial_quickstart(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _tutorial("tutorial_quickstart").main(in_tmp / "quick", horizon_s=300)
    out = capsys.readouterr().out
    assert f"{result.summary['trips_completed']:,} of " in out
    assert " p99 " in out  # message latency per kind
    assert (in_tmp / "quick" / "report.html").is_file()
    assert (in_tmp / "quick" / "figures").is_dir()


def test_tutorial_compare_policies(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table: dict[str, Any] = _tutorial("tutorial_compare_policies").main(
        in_tmp / "compare", replications=2, horizon_s=900, jobs=1)
    rows = [(a, n) for m, a, n in zip(table["metric"], table["arm"], table["n"], strict=True)
            if m == "travel_time_mean_s"]
    assert rows == [("none", 2), ("dynamic_shortest", 2)]
    assert (in_tmp / "compare" / "comparison.csv").is_file()
    out = capsys.readouterr().out
    assert "travel_time_mean_s   dynamic_shortest" in out


def test_tutorial_own_network(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _tutorial("tutorial_own_network").main(in_tmp / "city", horizon_s=600)
    assert "B1C1" in set(result.links["link"])  # SUMO's own edge ids
    incidents = [e for e in result.events if e.kind == "incident_start"]
    assert [e.link for e in incidents] == ["B1C1"]
    assert (in_tmp / "city" / "network" / "signals.csv").is_file()
    assert (in_tmp / "city" / "results" / "summary.json").is_file()
    assert "9 junctions, 24 links" in capsys.readouterr().out


# ------------------------------------------------------------------ API examples in docs
def _python_blocks(page: Path) -> list[str]:
    """The ```python blocks of a page, except snippets of scripts (tested above)."""
    text = page.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    return [block for block in blocks if "--8<--" not in block]


@pytest.mark.parametrize("page", [p for p in PAGES if _python_blocks(p)],
                         ids=lambda p: str(p.relative_to(DOCS)))
def test_api_examples_in_the_docs_run(page: Path, in_tmp: Path) -> None:
    """Every page's Python examples run in order, in one namespace, in a scratch folder."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for number, block in enumerate(_python_blocks(page), start=1):
        code = compile(block, f"{page.name} example {number}", "exec")
        exec(code, namespace)


def test_the_docs_have_api_examples() -> None:
    assert len(_python_blocks(DOCS / "guide" / "python.md")) >= 4


# ------------------------------------------------------------------------------ links
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's and mkdocs' anchor for a heading: lower case, punctuation dropped."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _broken_links(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists() or REPO not in (linked, *linked.parents):
            broken.append(f"{target} (no such file in the repository)")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target} (no heading for #{anchor})")
    return broken


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path) -> None:
    assert _broken_links(page) == []


def test_link_checker_sees_broken_links(tmp_path: Path) -> None:
    page = REPO / "docs" / "_probe.md"
    page.write_text("# Title here\n[a](missing.md) [b](index.md#nowhere) [c](#title-here)\n"
                    "[d](https://example.org) [e](../LICENSE)\n", encoding="utf-8")
    try:
        assert _broken_links(page) == ["missing.md (no such file in the repository)",
                                       "index.md#nowhere (no heading for #nowhere)"]
    finally:
        page.unlink()


def test_readme_links_the_project_files() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = set(LINK.findall(readme))
    assert {"LICENSE", "CITATION.cff", "CHANGELOG.md", "docs/index.md"} <= targets
