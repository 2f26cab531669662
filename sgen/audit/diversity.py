"""How varied a synthetic set is: distinct-n over words, and the Vendi score over the student encoder's embeddings
(Friedman & Dieng 2023: the effective number of distinct items, from 1 for copies to n for orthogonal ones; the
authors' `vendi-score` package computes it)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sgen.audit.contamination import _WORD


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Distinct word n-grams / all word n-grams over the set (Li et al. 2016); None without any n-gram."""
    grams = [tuple(words[k:k + n]) for words in (_WORD.findall(t.lower()) for t in texts)
             for k in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def vendi(embeddings: np.ndarray | None) -> float | None:
    """The Vendi score with a cosine kernel; None for fewer than two items or no embeddings."""
    if embeddings is None or len(embeddings) < 2:
        return None
    from vendi_score import vendi as vendi_score

    # The dual form: the eigenvalues of X^T X / n (dim x dim), the same nonzero spectrum as the n x n kernel.
    return float(vendi_score.score_dual(np.asarray(embeddings, dtype=np.float64), normalize=True))


def diversity_metrics(synthetic: Sequence[str], synthetic_embeddings: np.ndarray | None,
                      seed_embeddings: np.ndarray | None) -> dict[str, float | None]:
    both = (np.concatenate([seed_embeddings, synthetic_embeddings])
            if seed_embeddings is not None and synthetic_embeddings is not None and len(synthetic_embeddings) else None)
    return {"distinct_1": distinct_n(synthetic, 1), "distinct_2": distinct_n(synthetic, 2),
            "vendi_synthetic": vendi(synthetic_embeddings), "vendi_seed": vendi(seed_embeddings),
            "vendi_seed_plus_synthetic": vendi(both)}
