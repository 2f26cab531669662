"""Classification prompts (record -> chat messages) and parsers (raw teacher text -> record or a failure status)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sgen.records import Example, Messages
from sgen.tasks.judging import REPLY_FORMAT

_PREFIX = re.compile(r"^\s*(?:here is|here's|sure|rewritten|rephrased|new|paraphrase|text|tweet|message|output)"
                     r"[^:\n]{0,40}:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ClassificationPrompts:
    labels: tuple[str, ...]
    text_kind: str = "text"
    label_kind: str = "label"
    min_chars: int = 3
    max_chars: int = 400

    # -- format_input: record -> prompt ------------------------------------------------------------------------
    def label(self, text: str, exemplars: Sequence[Example]) -> Messages:
        """Exemplars as earlier chat turns: small chat models then answer with a bare label instead of echoing
        a "Text: ..." layout (SmolLM2-135M on 90 tweets: 39% accuracy, 100% parsed vs 24% and 71% in one message)."""
        system = (f"You classify the {self.label_kind} of {self.text_kind}s. "
                  f"Reply with exactly one of: {', '.join(self.labels)}.")
        messages = [{"role": "system", "content": system}]
        for e in exemplars:
            messages += [{"role": "user", "content": e.text}, {"role": "assistant", "content": str(e.label)}]
        return messages + [{"role": "user", "content": text}]

    def rephrase(self, example: Example) -> Messages:
        body = (f"Rewrite this {self.text_kind} in different words. Keep its meaning and its {self.label_kind} "
                f"({example.label}). Reply with the rewritten {self.text_kind} only.\n\n{example.text}")
        return [{"role": "user", "content": body}]

    def new_input(self, label: str, exemplars: Sequence[Example]) -> Messages:
        shots = "\n".join(f"- {e.text}" for e in exemplars)
        body = (f"Here are examples of {self.text_kind}s whose {self.label_kind} is {label}:\n{shots}\n\n"
                f"Write one new, different {self.text_kind} whose {self.label_kind} is {label}. "
                f"Reply with the {self.text_kind} only.")
        return [{"role": "user", "content": body}]

    def judge(self, text: str, label: str | None, original: str | None) -> Messages:
        """The judge's rubric for a classification row: a rewrite must keep its original's meaning; every row's
        label must be right for its text."""
        system = (f"You grade synthetic training data for a classifier of the {self.label_kind} of "
                  f"{self.text_kind}s (labels: {', '.join(self.labels)}). {REPLY_FORMAT}")
        if original is not None:
            body = (f"Original {self.text_kind}: {original}\nRewrite: {text}\n{self.label_kind}: {label}\n\n"
                    f"Does the rewrite keep the original's meaning, and is {label} its right {self.label_kind}?")
        else:
            body = (f"{self.text_kind}: {text}\n{self.label_kind}: {label}\n\n"
                    f"Is this a natural {self.text_kind}, and is {label} its right {self.label_kind}?")
        return [{"role": "system", "content": system}, {"role": "user", "content": body}]

    # -- format_output: raw text -> record ---------------------------------------------------------------------
    def parse_label(self, raw: str) -> tuple[str | None, str]:
        """The label the text names first (case, spaces and underscores ignored)."""
        norm = _normalise(raw)
        if not norm:
            return None, "empty"
        hits = []
        for lab in self.labels:
            m = re.search(rf"(?<![a-z0-9]){re.escape(_normalise(lab))}(?![a-z0-9])", norm)
            if m:
                hits.append((m.start(), -len(lab), lab))
        if not hits:
            return None, "no_label"
        return min(hits)[2], "ok"

    def parse_text(self, raw: str, source: str | None = None) -> tuple[str | None, str]:
        """The generated text without chatter or quotes; rejects empty, overlong or unchanged copies."""
        text = raw.strip()
        text = _PREFIX.sub("", text, count=1).strip()
        text = text.split("\n\n")[0].strip().strip('"“”\'').strip()
        if len(text) < self.min_chars:
            return None, "empty"
        if len(text) > self.max_chars:
            return None, "too_long"
        if source is not None and _normalise(text) == _normalise(source):
            return None, "copy_of_source"
        return text, "ok"


def _normalise(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.lower()).strip()
