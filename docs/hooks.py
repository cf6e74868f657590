"""mkdocs hooks: the pages' generated parts come from the code, so they cannot drift.

``<!-- generated: cli-reference -->`` becomes every command's ``--help`` and
``<!-- generated: bundled-scenarios -->`` the table of bundled scenarios.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKERS = ("<!-- generated: cli-reference -->", "<!-- generated: bundled-scenarios -->")


def _help_block(parser: argparse.ArgumentParser) -> str:
    return "```text\n" + parser.format_help().strip() + "\n```"


def cli_reference() -> str:
    """Markdown: the top-level help, then a section per command with its help."""
    from v2x_sim.cli_parser import build_parser

    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal: make it fixed
    parser = build_parser()
    parts = [_help_block(parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += [f"### v2x-sim {name}", _help_block(sub)]
    return "\n\n".join(parts)


def bundled_scenarios() -> str:
    """Markdown: a table of the bundled scenarios and their descriptions."""
    from v2x_sim.scenario.presets import list_presets

    rows = ["| name | description |", "|---|---|"]
    rows += [f"| `{p.name}` | {p.description} |" for p in list_presets()]
    return "\n".join(rows)


def on_page_markdown(markdown: str, **_kwargs: Any) -> str:
    """Replace the markers with what they stand for."""
    if MARKERS[0] in markdown:
        markdown = markdown.replace(MARKERS[0], cli_reference())
    if MARKERS[1] in markdown:
        markdown = markdown.replace(MARKERS[1], bundled_scenarios())
    return markdown
