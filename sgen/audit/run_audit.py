"""The audit of one run's synthetic set: contamination against the test set and diversity, on the student's own
encoder; the flagged rows are written beside the dataset so a researcher can read what matched what."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgen.audit.contamination import ContaminationReport, find_contamination
from sgen.audit.diversity import diversity_metrics
from sgen.records import Example, TaskData

log = logging.getLogger(__name__)


@dataclass
class Audit:
    contamination: ContaminationReport
    diversity: dict[str, float | None]
    n_decontaminated: int = 0

    def metrics(self) -> dict[str, Any]:
        return {"contamination": self.contamination.metrics(), "diversity": self.diversity,
                "n_decontaminated": self.n_decontaminated}


def audit_synthetic(task, student, data: TaskData, synthetic: Sequence[Example]) -> Audit:
    """Embeddings come from the student's pretrained encoder, in one pass over synthetic, test and seed texts."""
    texts = [e.text for e in synthetic]
    embeddings = student.embed([*texts, *(e.text for e in data.test), *(e.text for e in data.seed)])
    syn_emb = test_emb = seed_emb = None
    if embeddings is not None:
        n, m = len(texts), len(data.test)
        syn_emb, test_emb, seed_emb = embeddings[:n], embeddings[n:n + m], embeddings[n + m:]
    meaningful = student.pretrained_encoder  # a random encoder's cosine flags unrelated texts
    report = find_contamination(texts, [e.text for e in data.test], task.contamination,
                                syn_emb if meaningful else None, test_emb if meaningful else None)
    return Audit(report, diversity_metrics(texts, syn_emb, seed_emb))


def decontaminated(audit: Audit, synthetic: list[Example], drop: bool) -> list[Example]:
    """The synthetic examples to train on: without the flagged ones when `drop` (task.decontaminate)."""
    flagged = audit.contamination.flagged
    if flagged:
        log.warning("contamination: %d of %d synthetic rows duplicate a test item (%s); %s", len(flagged),
                    len(synthetic), ", ".join(f"{k} {v}" for k, v in audit.contamination.metrics().items()
                                              if k in ("exact", "ngram", "jaccard", "embedding") and v),
                    "dropped before training (task.decontaminate=true)" if drop else
                    "kept: task.decontaminate=true drops them; see contamination.jsonl")
    if not drop:
        return synthetic
    audit.n_decontaminated = len(flagged)
    return [e for i, e in enumerate(synthetic) if i not in flagged]


def write_contamination(audit: Audit, synthetic: Sequence[Example], test: Sequence[Example], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for flag in audit.contamination.flags:
            f.write(json.dumps({"synthetic": synthetic[flag.index].text, "test": test[flag.test_index].text,
                                "test_id": test[flag.test_index].id, "reason": flag.reason,
                                "score": round(flag.score, 4)}, ensure_ascii=False) + "\n")
