"""Text classification tasks: tweets (bundled), banking77 (local or hub), or any labeled table (custom)."""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sgen.records import Example, TaskData
from sgen.students.metrics import accuracy, macro_f1
from sgen.tasks.base import Task, check_sizes
from sgen.tasks.prompts import ClassificationPrompts
from sgen.tasks.sources import Row, RowSource
from sgen.tasks.splits import shuffled, stratified_sample

log = logging.getLogger(__name__)


class ClassificationTask(Task):
    kind = "classification"

    def __init__(
        self,
        name: str,
        source: RowSource,
        seed_size: int = 100,
        unlabeled_size: int | None = 20000,
        test_size: int | None = 1000,
        test_min_confidence: float | None = None,
        test_seed: int = 0,
        text_kind: str = "text",
        label_kind: str = "label",
        few_shot: int = 4,
        few_shot_sets: int | None = None,
        decontaminate: bool = False,
        contamination: dict[str, Any] | None = None,
    ) -> None:
        check_sizes(seed_size, test_size, unlabeled_size, few_shot)
        self.name = name
        self.source = source
        self.seed_size = seed_size
        self.unlabeled_size = unlabeled_size
        self.test_size = test_size
        self.test_min_confidence = test_min_confidence
        self.test_seed = test_seed  # fixed across run seeds, so every run of a study scores on the same test set
        self.text_kind = text_kind
        self.label_kind = label_kind
        self.few_shot = few_shot
        if few_shot_sets is not None and few_shot_sets < 1:
            raise ValueError(f"task.few_shot_sets must be >= 1 or null (a fresh draw per item), got {few_shot_sets}")
        self.few_shot_sets = few_shot_sets
        self.set_audit(decontaminate, contamination)
        self.prompts: ClassificationPrompts | None = None

    def sft_pairs(self, examples) -> list:
        """Zero-shot label prompts: a fine-tuned model needs no exemplars, and shorter prompts train faster."""
        prompts = self._prompts()
        return [(prompts.label(e.text, []), e.label) for e in examples]

    def score(self, prediction: str, gold: str) -> bool:
        return self._prompts().parse_label(prediction)[0] == gold

    def evaluate(self, predictions: Sequence[str], test: Sequence[Example]) -> dict[str, float]:
        """Accuracy and macro-F1 of the labels parsed from a generative student's texts, and how many did not parse."""
        gold = [e.label for e in test]
        parsed = [self._prompts().parse_label(p)[0] or "" for p in predictions]
        return {"accuracy": accuracy(gold, parsed), "macro_f1": macro_f1(gold, parsed),
                "parse_failure_rate": sum(p == "" for p in parsed) / max(len(parsed), 1)}

    def _prompts(self) -> ClassificationPrompts:
        if self.prompts is None:
            raise RuntimeError(f"task {self.name!r}: call load() before asking for prompts")
        return self.prompts

    def load(self, seed: int) -> TaskData:
        train_rows, test_rows = self.source.load()
        train = _examples(train_rows, "train")
        if test_rows is None:
            test, train = self._carve_test(train, {r.text: r.confidence for r in train_rows})
        else:
            test = _examples(test_rows, "test")
            test = test if self.test_size is None else stratified_sample(test, min(self.test_size, len(test)),
                                                                         self.test_seed)
        seen = {e.text for e in test}
        train = [e for e in train if e.text not in seen]  # no test text leaks into seed or pool
        labels = sorted({e.label for e in train} | {e.label for e in test})
        if len(labels) < 2:
            raise ValueError(f"task {self.name!r} has a single label ({labels[0]!r}) in its data: a classifier "
                             f"needs at least two; check task.source.label_column")
        if self.seed_size > len(train):
            raise ValueError(f"task.seed_size={self.seed_size} is larger than the {len(train)} training rows of "
                             f"task {self.name!r}; choose at most {len(train)}")
        seed_set = stratified_sample(train, self.seed_size, seed)
        in_seed = {e.id for e in seed_set}
        pool = [e for e in shuffled(train, seed) if e.id not in in_seed][: self.unlabeled_size]
        self.prompts = ClassificationPrompts(tuple(labels), self.text_kind, self.label_kind)
        log.info("task %s: %d seed, %d unlabeled, %d test, %d labels (seed labels %s)", self.name, len(seed_set),
                 len(pool), len(test), len(labels), dict(Counter(e.label for e in seed_set)))
        return TaskData(
            seed=seed_set,
            unlabeled=[Example(e.id, e.text, None) for e in pool],
            test=test,
            labels=labels,
            hidden_gold={e.id: e.label for e in pool},
        )

    def _carve_test(self, train: list[Example], confidence: dict[str, float | None]):
        """Hold out a test set from a single-file corpus, preferring rows the annotators agreed on."""
        candidates = train
        if self.test_min_confidence is not None:
            candidates = [e for e in train if (confidence.get(e.text) or 0.0) >= self.test_min_confidence]
        size = self.test_size or max(1, len(train) // 10)
        if size > len(candidates):
            where = f" with confidence >= {self.test_min_confidence}" if self.test_min_confidence is not None else ""
            raise ValueError(f"task.test_size={size} but only {len(candidates)} rows{where} can be held out for the "
                             "test set; lower task.test_size or give a task.source.test_file")
        test = stratified_sample(candidates, size, self.test_seed)
        held = {e.id for e in test}
        return test, [e for e in train if e.id not in held]


def _examples(rows: list[Row], split: str) -> list[Example]:
    return [Example(f"{split}-{i}", r.text, r.label) for i, r in enumerate(rows)]
