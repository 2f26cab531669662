"""Math word problem prompts (record -> chat messages) and parsers (raw model text -> record or a failure status).

One set of prompts serves every role: the teacher answers (few-shot, exemplars as earlier chat turns), the
augmenter rephrases a question, writes a new one, or checks that a question is answerable.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sgen.records import Example, Messages
from sgen.tasks.judging import REPLY_FORMAT
from sgen.tasks.math_answers import extract_answer, states_final_answer, strip_calculator_annotations

INSTRUCTION = ("Solve the math word problem. Reason step by step, then give the final answer as a number on "
               "the last line, written as '#### <number>'.")
# Chatter models put before the text they were asked for: "Sure! Here is the rewritten problem:".
_PREFIX = re.compile(r"^\s*(?:sure[!,.]?\s*)?(?:here is|here's|rewritten|rephrased|new|paraphrased?|problem|question)"
                     r"[^:\n]{0,50}:\s*", re.IGNORECASE)
# Where a generated question stops: the model starts solving it or writing the next one.
_QUESTION_END = re.compile(r"\n\s*\n|\n\s*(?:answer|solution|####|step 1|question\s*\d*\s*:)|####",
                           re.IGNORECASE)
_QUOTES = "\"“”'"
# A word problem asks something: a question mark or a directive (every GSM8K question has one of these).
_ASKS = re.compile(r"\?|\b(?:calculate|find|determine|compute|how (?:many|much|long|far|old|fast)|what)\b",
                   re.IGNORECASE)
# Where a generated answer stops: a few-shot model goes on with a next "Question:".
_ANSWER_END = re.compile(r"\n\s*(?:question|problem)\s*\d*\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class MathPrompts:
    instruction: str = INSTRUCTION
    min_question_chars: int = 15
    max_question_chars: int = 1200

    # -- format_input: record -> prompt ------------------------------------------------------------------------
    def answer(self, question: str, exemplars: Sequence[Example] = ()) -> Messages:
        """Few-shot as chat turns: the model sees solved problems as its own earlier replies, in the target format."""
        messages: Messages = []
        for ex in exemplars:
            messages += [{"role": "user", "content": self._ask(ex.text, first=not messages)},
                         {"role": "assistant", "content": self.target(ex.label or "")}]
        messages.append({"role": "user", "content": self._ask(question, first=not messages)})
        return messages

    def target(self, solution: str) -> str:
        """The completion a model is trained on or shown: reasoning without calculator markup, then `#### N`."""
        return strip_calculator_annotations(solution).strip()

    def rephrase(self, example: Example) -> Messages:
        body = ("Rewrite the following math word problem in different words. Keep its meaning, every number and "
                "its answer the same. Reply with the rewritten problem only, without solving it.\n\n"
                f"Problem: {example.text}")
        return [{"role": "user", "content": body}]

    def new_question(self, example: Example) -> Messages:
        body = ("Here is a math word problem:\n\n"
                f"{example.text}\n\n"
                "Write one new math word problem of the same kind, with a different situation or different numbers, "
                "so that it has a different answer. It must be self-contained and have exactly one numeric answer. "
                "Reply with the new problem only, without solving it.")
        return [{"role": "user", "content": body}]

    def judge(self, question: str, answer: str | None, original: str | None) -> Messages:
        """The judge's rubric for a math row: the question answerable and well posed (and, for a rewrite, the same
        problem as its original), the worked answer right."""
        same = (f"Original problem: {original}\n" if original is not None else "")
        ask = ("Is the problem the same as the original, " if original is not None else "Is the problem ")
        body = (f"{same}Problem: {question}\nAnswer: {answer}\n\n{ask}self-contained, answerable and well "
                "posed, and are the answer's reasoning and final number correct?")
        return [{"role": "system", "content": f"You grade synthetic math training data. {REPLY_FORMAT}"},
                {"role": "user", "content": body}]

    def check_question(self, question: str) -> Messages:
        body = ("Is the following a well-formed, self-contained math word problem with exactly one numeric answer? "
                f"Reply with yes or no.\n\nProblem: {question}")
        return [{"role": "user", "content": body}]

    def _ask(self, question: str, first: bool) -> str:
        return f"{self.instruction}\n\nQuestion: {question}" if first else f"Question: {question}"

    # -- format_output: raw text -> record ---------------------------------------------------------------------
    def parse_answer(self, raw: str, truncated: bool = False) -> tuple[str | None, str]:
        """The solution up to its final number, ending in `#### N`; ("no_answer") when it holds no number, and
        ("truncated") when generation hit its token limit before stating an answer: the last number of a cut-off
        chain of thought is not the answer the model would have given."""
        text = _ANSWER_END.split(raw.strip(), maxsplit=1)[0].strip()
        if not text:
            return None, "empty"
        if truncated and not states_final_answer(text):
            return None, "truncated"
        number = extract_answer(text)
        if number is None:
            return None, "no_answer"
        hashes = text.find("####")
        reasoning = text[:hashes].strip() if hashes >= 0 else text
        return (f"{reasoning}\n#### {number}" if reasoning else f"#### {number}"), "ok"

    def parse_question(self, raw: str, source: str | None = None) -> tuple[str | None, str]:
        """The generated problem without chatter, quotes or a solution. Rejects empty, overlong or copied text and
        text that asks nothing (no '?' and no 'calculate' / 'find' / 'how many' ...): a statement is no problem."""
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", raw.strip()) if p.strip()]
        # "Here is a new problem:" alone in a paragraph introduces the next one.
        while len(paragraphs) > 1 and paragraphs[0].endswith(":"):
            paragraphs.pop(0)
        text = _PREFIX.sub("", paragraphs[0] if paragraphs else "", count=1).strip()
        text = _QUESTION_END.split(text, maxsplit=1)[0].strip()
        if len(text) > 1 and text[0] in _QUOTES and text[-1] in _QUOTES:  # a quoted reply, not a quote inside it
            text = text[1:-1].strip()
        if "?" in text:  # lines after the one that asks are the model solving it; a hint on that line stays
            end = text.find("\n", text.rindex("?"))
            text = text if end < 0 else text[:end].strip()
        if len(text) < self.min_question_chars:
            return None, "empty"
        if len(text) > self.max_question_chars:
            return None, "too_long"
        if not _ASKS.search(text):
            return None, "no_question"
        if source is not None and _normalise(text) == _normalise(source):
            return None, "copy_of_source"
        return text, "ok"

    def parse_check(self, raw: str) -> tuple[bool | None, str]:
        """yes -> True, no -> False, anything else -> None ("no_verdict")."""
        match = re.search(r"\b(yes|no)\b", raw.lower())
        if match is None:
            return None, "no_verdict"
        return match.group(1) == "yes", "ok"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()
