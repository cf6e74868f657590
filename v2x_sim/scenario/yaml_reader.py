"""YAML for scenarios: safe, bounded, strict about duplicates, positions in every error.

PyYAML's ``safe_load`` builds only plain data, but it accepts what a scenario must not:
a key given twice (the last silently wins), aliases that expand a few hundred bytes into
billions of values (the "billion laughs": the data shares its parts, so loading is
cheap, but anything that walks it, a deep copy, a validation, an error message, a dump,
is not), and nesting deep enough to exhaust Python's recursion. Here those are errors
with the line they occur on, before any of that work is done. Numbers in exponent form
(``1e3``, ``2.5E-3``) are numbers, as in YAML 1.2 (YAML 1.1 reads them as strings):
``1e3`` with a non-negative exponent and no decimal point is the integer 1000, so it
fits integer fields too.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted (scenarios need fewer than ten)."""
MAX_ALIAS_EXPANSION = 10_000
"""Most values aliases may add beyond those written out in the text."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_EXPONENT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
_INTEGER_EXPONENT = re.compile(r"^[-+]?[0-9][0-9_]*[eE]\+?[0-9]+$")


class YamlLimitError(yaml.YAMLError):
    """A document breaks one of the limits above, or repeats a key.

    Attributes:
        problem: what is wrong.
        line: 1-based line where it was found.
    """

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def _line(node: Node) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with a depth limit while composing and duplicate-key checks."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels",
                                     mark.line + 1 if mark is not None else None)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int | None] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue  # merged mappings may be overridden; complex keys fail later
            key = self.construct_object(key_node)
            if key in seen:
                raise YamlLimitError(f"duplicate key {key!r} (first given on line "
                                     f"{seen[key]})", _line(key_node))
            seen[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_yaml_float(self, node: ScalarNode) -> Any:
        text = str(self.construct_scalar(node))
        if _INTEGER_EXPONENT.match(text):
            value = float(text.replace("_", ""))
            if value.is_integer() and abs(value) < 2**63:
                return int(value)
        return super().construct_yaml_float(node)


_ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT,
                                      list("-+0123456789."))
_ScenarioLoader.add_constructor("tag:yaml.org,2002:float",
                                _ScenarioLoader.construct_yaml_float)


def _check_expansion(root: Node) -> None:
    """Count the values the node graph expands to, without expanding it.

    A node reached through an alias is the same object as its anchor, so its expanded
    size is computed once (memoised) and counted at every place it is used.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    distinct = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] - distinct > MAX_ALIAS_EXPANSION:
                raise YamlLimitError(f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} "
                                     "values (an alias bomb?)", _line(node))
            if depth[key] > MAX_DEPTH:
                raise YamlLimitError(f"aliases nest deeper than {MAX_DEPTH} levels",
                                     _line(node))
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlLimitError("an alias refers to a value that contains it (a cycle)",
                                 _line(node))
        distinct += 1
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def load_yaml(text: str) -> Any:
    """Parse one YAML document into plain data, within the limits of this module.

    Raises:
        yaml.YAMLError: malformed YAML; `YamlLimitError` for a duplicate key, too deep
            nesting, or aliases expanding past `MAX_ALIAS_EXPANSION`.
    """
    loader = _ScenarioLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expansion(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def describe_yaml_error(error: yaml.YAMLError, text: str) -> tuple[str, int | None]:
    """(problem, 1-based line) of a YAML error, for a one-line message."""
    if isinstance(error, YamlLimitError):
        return error.problem, error.line
    if isinstance(error, yaml.reader.ReaderError):
        # raised for characters YAML forbids (a NUL byte, control codes): no mark,
        # but a position in the text
        position = max(0, min(error.position, len(text)))
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        char = error.character  # PyYAML stores the code point for these
        code = ord(char) if isinstance(char, str) else int(char)
        name = " (NUL)" if code == 0 else ""
        return f"character \\x{code:02x}{name} at column {column} is not allowed in YAML", line
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "invalid YAML"
    return str(problem), (mark.line + 1 if mark is not None else None)

