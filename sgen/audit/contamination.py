"""Synthetic rows that duplicate a test item, exactly or nearly.

Rephrase and new-question strategies on a public benchmark can regenerate test items (the teacher may have seen
them), and a student trained on them scores a gain that is not one. Three measures, the usual ones for
decontamination, each where it works:
- exact: the same text after lower-casing and collapsing punctuation and spaces;
- long texts (at least `ngram` words): any shared word n-gram (13-grams, as GPT-3 and Llama 2 decontaminated);
- short texts (tweets): character n-gram Jaccard similarity to a test text of at least `jaccard`;
- any text, when the student has an encoder: embedding cosine to a test text of at least `cosine`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ContaminationSettings:
    ngram: int = 13  # words; texts this long are compared by shared word n-grams
    char_ngram: int = 5
    jaccard: float = 0.8  # shorter texts: character n-gram Jaccard similarity at least this
    cosine: float = 0.95  # embedding cosine at least this (all-MiniLM-L6-v2 paraphrases score about 0.8 to 0.95)

    def __post_init__(self) -> None:
        if self.ngram < 1 or self.char_ngram < 1 or not 0 < self.jaccard <= 1 or not -1 <= self.cosine <= 1:
            raise ValueError(f"task.contamination settings out of range: {asdict(self)}; ngram and char_ngram >= 1, "
                             "jaccard in (0, 1], cosine in [-1, 1]")


@dataclass
class Flag:
    """One synthetic row found to duplicate a test item: which, by what measure, how closely."""

    index: int  # into the synthetic texts audited
    test_index: int
    reason: str  # exact | ngram | jaccard | embedding
    score: float


@dataclass
class ContaminationReport:
    n_checked: int
    flags: list[Flag] = field(default_factory=list)
    embedding_checked: bool = False
    settings: ContaminationSettings = field(default_factory=ContaminationSettings)

    @property
    def flagged(self) -> set[int]:
        return {f.index for f in self.flags}

    def metrics(self) -> dict:
        by_reason = {reason: sum(f.reason == reason for f in self.flags)
                     for reason in ("exact", "ngram", "jaccard", "embedding")}
        if not self.embedding_checked:
            by_reason["embedding"] = None
        return {"n_checked": self.n_checked, "flagged": len(self.flags),
                "rate": len(self.flags) / self.n_checked if self.n_checked else 0.0, **by_reason,
                "settings": asdict(self.settings)}


def normalized(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def find_contamination(synthetic: Sequence[str], test: Sequence[str],
                       settings: ContaminationSettings = ContaminationSettings(),
                       synthetic_embeddings: np.ndarray | None = None,
                       test_embeddings: np.ndarray | None = None) -> ContaminationReport:
    """Each synthetic text flagged at most once, by the first measure that finds it (exact, n-gram or Jaccard,
    embedding), with the test item it duplicates."""
    report = ContaminationReport(len(synthetic), settings=settings,
                                 embedding_checked=synthetic_embeddings is not None and test_embeddings is not None)
    if not synthetic or not test:
        return report
    found: dict[int, Flag] = {}
    exact = {}
    for j, text in enumerate(test):
        exact.setdefault(normalized(text), j)
    for i, text in enumerate(synthetic):
        j = exact.get(normalized(text))
        if j is not None:
            found[i] = Flag(i, j, "exact", 1.0)
    long = [i for i, text in enumerate(synthetic) if i not in found and len(_WORD.findall(text)) >= settings.ngram]
    for i, j in _shared_ngrams([synthetic[i] for i in long], test, settings.ngram).items():
        found[long[i]] = Flag(long[i], j, "ngram", 1.0)
    long_set = set(long)
    short = [i for i in range(len(synthetic)) if i not in found and i not in long_set]
    for i, (j, score) in _char_jaccard([synthetic[i] for i in short], test, settings).items():
        found[short[i]] = Flag(short[i], j, "jaccard", score)
    if report.embedding_checked:
        for i, (j, score) in _nearest_by_cosine(synthetic_embeddings, test_embeddings, settings.cosine).items():
            found.setdefault(i, Flag(i, j, "embedding", score))
    report.flags = [found[i] for i in sorted(found)]
    return report


def _word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[k:k + n]) for k in range(len(words) - n + 1)}


def _shared_ngrams(texts: Sequence[str], test: Sequence[str], n: int) -> dict[int, int]:
    """{index in texts: a test index} for texts sharing a word n-gram with a test text."""
    owner: dict[tuple[str, ...], int] = {}
    for j, text in enumerate(test):
        for gram in _word_ngrams(text, n):
            owner.setdefault(gram, j)
    hits = {}
    for i, text in enumerate(texts):
        j = next((owner[g] for g in _word_ngrams(text, n) if g in owner), None)
        if j is not None:
            hits[i] = j
    return hits


def _char_jaccard(texts: Sequence[str], test: Sequence[str],
                  settings: ContaminationSettings) -> dict[int, tuple[int, float]]:
    """{index in texts: (most similar test index, Jaccard)} at or above the threshold. Shingles by scikit-learn's
    vectorizer; the intersections of every pair in one sparse product."""
    if not texts:
        return {}
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=(settings.char_ngram, settings.char_ngram),
                                 binary=True, preprocessor=normalized)
    try:
        vectorizer.fit([*texts, *test])
    except ValueError:  # no shingle at all (texts shorter than char_ngram)
        return {}
    a, b = vectorizer.transform(texts), vectorizer.transform(test)
    inter = (a @ b.T).tocoo()
    size_a, size_b = np.asarray(a.sum(1)).ravel(), np.asarray(b.sum(1)).ravel()
    jaccard = inter.data / (size_a[inter.row] + size_b[inter.col] - inter.data)
    best: dict[int, tuple[int, float]] = {}
    for i, j, score in zip(inter.row, inter.col, jaccard, strict=True):
        if score >= settings.jaccard and score > best.get(i, (-1, -1.0))[1]:
            best[int(i)] = (int(j), float(score))
    return best


def _nearest_by_cosine(a: np.ndarray, b: np.ndarray, threshold: float) -> dict[int, tuple[int, float]]:
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    hits = {}
    for start in range(0, len(a), 1024):  # bounded memory: 1024 x len(test) similarities at a time
        sims = a[start:start + 1024] @ b.T
        best = sims.argmax(1)
        for k, j in enumerate(best):
            if sims[k, j] >= threshold:
                hits[start + k] = (int(j), float(sims[k, j]))
    return hits
