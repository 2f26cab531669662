"""Final-number extraction and normalisation for math word problems (GSM8K style), and exact-match scoring.

Extraction order for any text (gold or model output): the number after the first `####`, else the number after the
last "the answer is" / "answer:", else the last number in the text. Numbers are compared after normalising
thousands separators, `$`, `%`, a trailing period and trailing zeros (`18.00` == `18`), so formatting never
decides a score.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# A number: 1,080 (thousands groups only when every group has 3 digits), 12, 0.5, .5, optionally $-prefixed.
# A minus sign counts only when attached and not after a number ("10 - 5" holds 10 and 5, "= -5" holds -5).
_NUMBER = (r"(?:(?<![\d)]\s)(?<![\d)])[-−])?\$?\s?"
           r"(?:(?:\d{1,3}(?:,\d{3})+(?![\d,]*\d)|\d+)(?:\.\d+)?|(?<!\d)\.\d+)")
_NUMBER_RE = re.compile(_NUMBER)
_HASHES_RE = re.compile(rf"####\s*(?:\\boxed\{{)?\s*({_NUMBER})")
_ANSWER_IS_RE = re.compile(
    rf"answer\s*(?:is|:|=|would be|will be)\s*:?\s*(?:\\boxed\{{|\*\*)?\s*({_NUMBER})",
    re.IGNORECASE)


def normalize_number(text: str) -> str | None:
    """A canonical string for a number written in any usual way: '$1,080.00' -> '1080', '-0.50' -> '-0.5'."""
    cleaned = text.strip().replace("−", "-").replace("$", "").replace(",", "").replace("%", "").replace(" ", "")
    cleaned = cleaned.rstrip(".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def extract_answer(text: str | None) -> str | None:
    """The normalised final number of a solution, or None when the text holds no number."""
    if not text:
        return None
    hashes = _HASHES_RE.search(text)
    if hashes:
        return normalize_number(hashes.group(1))
    stated = _ANSWER_IS_RE.findall(text)
    if stated:
        return normalize_number(stated[-1])
    numbers = _NUMBER_RE.findall(text)
    return normalize_number(numbers[-1]) if numbers else None


def states_final_answer(text: str) -> bool:
    """Whether the text says which number is its answer (`#### N` or "the answer is N"), not just ends in one."""
    return bool(_HASHES_RE.search(text) or _ANSWER_IS_RE.search(text))


def answers_match(prediction: str | None, gold: str | None) -> bool:
    """Exact match of the final numbers of two solutions; a prediction without a number never matches."""
    predicted = extract_answer(prediction)
    return predicted is not None and predicted == extract_answer(gold)


def strip_calculator_annotations(solution: str) -> str:
    """GSM8K's `<<48/2=24>>` calculator traces are tool markup, not reasoning: drop them from prompts and targets."""
    return re.sub(r"<<[^<>]*>>", "", solution)
