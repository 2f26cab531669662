"""An LLM judge's score: the reply format every task's rubric asks for, and its parser."""
from __future__ import annotations

import re

SCALE = 5
REPLY_FORMAT = (f"Reply with 'Score: N', where N is a whole number from 1 (unusable) to {SCALE} (excellent), "
                "and nothing else.")
_SCORE = re.compile(rf"score\s*[:=]?\s*\**\s*([1-{SCALE}])\b", re.IGNORECASE)
_LEADING = re.compile(rf"^\W*([1-{SCALE}])\b")


def parse_score(raw: str) -> tuple[int | None, str]:
    """The score after 'Score:' (or a reply that starts with one), else None and why."""
    if not raw.strip():
        return None, "empty"
    match = _SCORE.search(raw) or _LEADING.search(raw)
    if match is None:
        return None, "no_score"
    return int(match.group(1)), "ok"
