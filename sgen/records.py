"""Plain records that flow left to right through a run (task -> strategy -> verifier -> student)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Messages = list[dict[str, str]]  # a chat prompt: [{"role": "user", "content": "..."}]


@dataclass(frozen=True)
class Example:
    """One labeled (or unlabeled, label=None) input of a task."""

    id: str
    text: str
    label: str | None = None


@dataclass
class TaskData:
    """The splits a run works with; the test set is never shown to the teacher."""

    seed: list[Example]
    unlabeled: list[Example]
    test: list[Example]
    labels: list[str]
    # Gold labels of the unlabeled pool, never shown to the teacher: used only to report annotation accuracy.
    hidden_gold: dict[str, str] = field(default_factory=dict)
    # "classification" (labels are class names) or "generation" (labels are full answers, `labels` is empty).
    kind: str = "classification"


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings of one teacher call; part of the query cache key."""

    max_new_tokens: int = 32
    temperature: float = 0.0
    top_p: float = 1.0

    @property
    def do_sample(self) -> bool:
        return self.temperature > 0


@dataclass
class Completion:
    """What a teacher backend returns for one prompt."""

    text: str
    prompt_tokens: int
    completion_tokens: int


NOT_SENT = -1  # the query_id of a query a dollar cap kept from being sent


@dataclass
class QueryRecord:
    """One metered teacher/augmenter/verifier call, kept verbatim as provenance."""

    query_id: int
    role: str
    purpose: str
    prompt: Messages
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False

    @property
    def sent(self) -> bool:
        """False for a query a dollar cap kept from being sent (sgen.budget.metered): no answer, no cost."""
        return self.query_id != NOT_SENT


@dataclass
class SyntheticRow:
    """One synthetic training example with everything needed to audit it."""

    text: str
    label: str | None
    strategy: str
    parse_status: str  # "ok" or a short reason it failed
    source_id: str | None = None
    target_label: str | None = None
    queries: list[QueryRecord] = field(default_factory=list)
    verifier: dict[str, Any] = field(default_factory=dict)
    kept: bool = True
    # Which draw of the same prompt this row is (answer augmentation asks one question k times).
    sample_index: int = 0

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["query_ids"] = [q.query_id for q in self.queries]
        return row
