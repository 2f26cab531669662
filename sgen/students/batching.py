"""Batches of similar length: a padded batch costs as much as its longest row, so grouping rows by length cuts the
compute spent on padding (tweets run from a handful of tokens to max_length)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Shuffle, sort by length within buckets of `bucket_batches` batches, cut into batches, shuffle the batches.

    The shuffle before bucketing keeps the composition of a batch random (ties and bucket membership change every
    epoch); the shuffle after keeps long and short batches mixed over the epoch. Every epoch yields each index
    exactly once; the order depends only on (seed, epoch). Lightning sets the epoch on samplers, not on batch
    samplers, so each pass over the sampler moves to the next epoch by itself; `set_epoch` restarts at any epoch.
    """

    # 4 batches a bucket, not transformers' 50: sgen's training sets are often a few hundred rows, and with 50 a
    # set under 1,600 rows would be one sorted bucket whose batches never change membership between epochs.
    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, bucket_batches: int = 4) -> None:
        if batch_size < 1 or bucket_batches < 1:
            raise ValueError(f"batch_size and bucket_batches must be >= 1; got {batch_size}, {bucket_batches}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size, self.seed, self.bucket_batches = batch_size, seed, bucket_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(len(self.lengths))
        bucket = self.batch_size * self.bucket_batches  # a multiple of batch_size: only the last batch can be short
        batches: list[list[int]] = []
        for start in range(0, len(order), bucket):
            chunk = order[start : start + bucket]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        for i in rng.permutation(len(batches)):
            yield batches[i]


def length_order(lengths: Sequence[int]) -> list[int]:
    """Indices sorted by length (stable): evaluate in this order, then put results back with `restore_order`."""
    return sorted(range(len(lengths)), key=lengths.__getitem__)


def restore_order(values: Sequence, order: Sequence[int]) -> list:
    """`values[k]` was computed for item `order[k]`: the values back in the items' original order."""
    out: list = [None] * len(order)
    for value, i in zip(values, order, strict=True):
        out[i] = value
    return out
