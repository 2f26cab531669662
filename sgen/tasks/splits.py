"""Deterministic, label-stratified sampling. Seed sets of growing size from the same seed are nested."""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from sgen.records import Example


def allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """Split n over labels in proportion to counts (largest remainder), at least one per label when n allows."""
    total = sum(counts.values())
    if n > total:
        raise ValueError(f"cannot sample {n} examples from {total}")
    labels = sorted(counts)
    floor = {lab: min(counts[lab], 1) if n >= len(labels) else 0 for lab in labels}
    rest = n - sum(floor.values())
    pool = {lab: counts[lab] - floor[lab] for lab in labels}
    pool_total = sum(pool.values())
    exact = {lab: rest * pool[lab] / pool_total if pool_total else 0.0 for lab in labels}
    share = {lab: int(exact[lab]) for lab in labels}
    by_remainder = sorted(labels, key=lambda lab: (-(exact[lab] - share[lab]), lab))
    for lab in by_remainder:
        if sum(share.values()) >= rest:
            break
        if share[lab] < pool[lab]:
            share[lab] += 1
    return {lab: floor[lab] + share[lab] for lab in labels}


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
