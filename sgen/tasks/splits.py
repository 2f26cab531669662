"""Deterministic, label-stratified sampling. Seed sets of growing size from the same seed are nested."""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from sgen.records import Example


def allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """Split n over labels in proportion to counts (largest remainder); every label gets one when n allows."""
    total = sum(counts.values())
    if n > total:
        raise ValueError(f"cannot sample {n} examples from {total}")
    labels = sorted(counts)
    exact = {lab: n * counts[lab] / total for lab in labels}
    share = {lab: int(exact[lab]) for lab in labels}
    for lab in sorted(labels, key=lambda lab: (share[lab] - exact[lab], lab))[: n - sum(share.values())]:
        share[lab] += 1
    if n >= len(labels):
        for lab in labels:
            if share[lab] == 0 and counts[lab] > 0:
                share[max(labels, key=lambda other: (share[other], other))] -= 1
                share[lab] = 1
    return share


def stratified_sample(examples: Sequence[Example], n: int, seed: int) -> list[Example]:
    """n examples, label proportions kept; the first k of each label's shuffled list, so smaller n gives a subset."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[str(ex.label)].append(ex)
    rng = random.Random(seed)
    for lab in sorted(by_label):
        by_label[lab].sort(key=lambda e: e.id)
        rng.shuffle(by_label[lab])
    quota = allocate({lab: len(v) for lab, v in by_label.items()}, n)
    chosen = [ex for lab in sorted(by_label) for ex in by_label[lab][: quota[lab]]]
    random.Random(seed + 1).shuffle(chosen)
    return chosen


def shuffled(examples: Sequence[Example], seed: int) -> list[Example]:
    out = sorted(examples, key=lambda e: e.id)
    random.Random(seed).shuffle(out)
    return out
