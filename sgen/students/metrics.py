"""Classification scores, computed without extra dependencies."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / max(len(gold), 1)


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Mean F1 over labels that occur in gold or predictions (sklearn's default for macro)."""
    labels = sorted(set(gold) | set(pred))
    tp = Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    n_gold, n_pred = Counter(gold), Counter(pred)
    f1s = []
    for lab in labels:
        denom = n_gold[lab] + n_pred[lab]
        f1s.append(2 * tp[lab] / denom if denom else 0.0)
    return sum(f1s) / max(len(f1s), 1)


def majority_baseline(train_labels: Sequence[str], test_labels: Sequence[str]) -> float:
    """Accuracy of always predicting the most common training label."""
    top = Counter(train_labels).most_common(1)[0][0]
    return sum(t == top for t in test_labels) / max(len(test_labels), 1)
