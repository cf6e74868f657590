"""Suggestions for misspelt names (fields, policies, scenarios, commands, flags)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

CUTOFF = 0.6
"""Similarity (difflib's ratio, 0..1) a choice needs to be suggested: 'rat_vph' finds
'rate_vph' (0.93), 'quikstart' finds 'quickstart' (0.95), 'xyz' finds nothing."""


def closest(word: str, choices: Iterable[str], *,
            key: Callable[[str], str] | None = None) -> str | None:
    """The choice most similar to ``word``, or None when none reaches `CUTOFF`.

    Case is ignored (``Quickstart`` finds ``quickstart``); on a tie the earlier choice
    wins, so callers list the likelier choices first.

    Args:
        word: what was typed.
        choices: the valid names.
        key: what of a choice to compare with ``word`` (default: all of it), e.g. the
            last part of a dotted path.
    """
    target = str(word).lower()
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(target)
    best, best_score = None, 0.0
    for choice in choices:
        matcher.set_seq1((key(choice) if key else choice).lower())
        score = matcher.ratio()
        if score >= CUTOFF and score > best_score:
            best, best_score = choice, score
    return best


def did_you_mean(word: str, choices: Iterable[str], *,
                 key: Callable[[str], str] | None = None) -> str:
    """``"did you mean 'x'?"`` for the choice closest to ``word``, or ``""``."""
    best = closest(word, choices, key=key)
    return f"did you mean {best!r}?" if best is not None and best != word else ""
