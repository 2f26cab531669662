"""Length-grouped batches: every row once per epoch, reproducible per seed, and much less padding."""
from __future__ import annotations

import random

import pytest

from sgen.students.batching import LengthGroupedBatchSampler, length_order, restore_order


def _skewed_lengths(n: int = 2000, seed: int = 0) -> list[int]:
    """Mostly short rows with a few long ones, as tweets under max_length: random batches pad to the long ones."""
    rng = random.Random(seed)
    return [rng.randint(50, 64) if rng.random() < 0.1 else rng.randint(4, 20) for _ in range(n)]


def _epochs(sampler: LengthGroupedBatchSampler, n: int) -> list[list[list[int]]]:
    return [list(sampler) for _ in range(n)]


def _padded_tokens(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("n,batch_size,bucket_batches", [(2000, 32, 50), (103, 8, 3), (5, 32, 50), (64, 8, 1)])
def test_every_index_once_per_epoch(n, batch_size, bucket_batches):
    lengths = _skewed_lengths(n)
    sampler = LengthGroupedBatchSampler(lengths, batch_size, seed=0, bucket_batches=bucket_batches)
    for batches in _epochs(sampler, 3):
        assert len(batches) == len(sampler) == -(-n // batch_size)
        assert sorted(i for b in batches for i in b) == list(range(n))
        assert sum(len(b) < batch_size for b in batches) == (n % batch_size != 0)


def test_deterministic_per_seed_and_different_across_seeds_and_epochs():
    lengths = _skewed_lengths(500)
    first = _epochs(LengthGroupedBatchSampler(lengths, 16, seed=7, bucket_batches=4), 2)
    assert first == _epochs(LengthGroupedBatchSampler(lengths, 16, seed=7, bucket_batches=4), 2)
    assert first != _epochs(LengthGroupedBatchSampler(lengths, 16, seed=8, bucket_batches=4), 2)
    assert first[0] != first[1]  # each epoch reshuffles
    restarted = LengthGroupedBatchSampler(lengths, 16, seed=7, bucket_batches=4)
    restarted.set_epoch(1)
    assert list(restarted) == first[1]


def test_batches_pad_far_less_than_random_batches():
    lengths = _skewed_lengths(2000)
    grouped = list(LengthGroupedBatchSampler(lengths, 32, seed=0))
    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    shuffled = [order[i : i + 32] for i in range(0, len(order), 32)]
    real = sum(lengths)
    assert _padded_tokens(grouped, lengths) < 0.5 * _padded_tokens(shuffled, lengths)
    # Larger buckets pad even less (at the price of batches that change less between epochs).
    wide = list(LengthGroupedBatchSampler(lengths, 32, seed=0, bucket_batches=50))
    assert _padded_tokens(wide, lengths) < 1.3 * real  # close to no padding at all


def test_batch_order_mixes_long_and_short_batches():
    lengths = _skewed_lengths(2000)
    widths = [max(lengths[i] for i in b) for b in LengthGroupedBatchSampler(lengths, 32, seed=0, bucket_batches=20)]
    assert widths != sorted(widths) and widths != sorted(widths, reverse=True)


def test_length_order_and_restore_order_round_trip():
    lengths = [5, 1, 9, 1, 3]
    order = length_order(lengths)
    assert [lengths[i] for i in order] == sorted(lengths) and order[:2] == [1, 3]  # stable for ties
    values = [f"v{i}" for i in order]  # computed in sorted order
    assert restore_order(values, order) == [f"v{i}" for i in range(len(lengths))]


def test_bad_sizes_name_the_values():
    with pytest.raises(ValueError, match="batch_size"):
        LengthGroupedBatchSampler([1, 2], 0, seed=0)
