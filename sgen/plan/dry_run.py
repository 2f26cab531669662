"""One job of a plan, dry: the real strategy code against simulated backends and a read-only view of the cache.

Everything a run does before its first query runs for real (config, task data, validation: a bad job fails here
with the run's own message); the queries go through the real MeteredTeacher, so which of them the cache holds, which
repeat an earlier job of the plan (nested budgets) and which are paid is decided by the same code as in the run.
No weights are loaded: a backend is only instantiated, for its model id, price and tokenizer.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sgen.assets import cache_root
from sgen.budget import QueryLedger
from sgen.budget.cache import sqlite_path
from sgen.devices import resolve_device
from sgen.models import ModelSource, converted_path
from sgen.plan.cache_view import PlannedCache, StoredAnswers, stored_answers
from sgen.plan.rates import RateBook
from sgen.plan.simulated import FirstPrompts, PlannedCall, PromptTokens, SimulatedTeacher, placeholder_for
from sgen.records import TaskData
from sgen.run import generation_context, prepare, seed_only_path, shares_results
from sgen.run_checks import check_priced
from sgen.synthetic_stats import synthetic_examples
from sgen.teachers.finetune import adapter_key, device_accelerator
from sgen.teachers.hf import HFTeacher
from sgen.teachers.pricing import backend_cost, run_cost, total
from sgen.throughput import (backend_batch_size, backend_setup, params_key, setup_id, student_setup,
                             training_work)

log = logging.getLogger(__name__)


@dataclass
class JobQueries:
    """What one job would ask and pay, and the sizes its stage times depend on."""

    budget: int | None  # queries; None: a dollar budget without a count
    used: int
    paid: int
    cached: int  # answered by the query cache as it is now
    reused: int  # paid by an earlier job of this plan (nested budgets, repeated jobs)
    by_role: dict[str, int]
    prompt_tokens: int  # of every query used
    completion_tokens: int
    paid_prompt_tokens: int
    paid_completion_tokens: int
    cost_usd: float | None  # list price of the queries used, as metrics.json reports it (None: price unknown)
    cost_usd_paid: float | None  # what the paid queries cost
    rows: int
    n_seed: int
    n_train: int
    n_test: int
    train_examples: int
    seed_only_examples: int
    train_steps: int
    seed_only_steps: int
    calls: list[PlannedCall]
    task: str
    teacher_setups: list[str]
    student_setup: str
    seed_only_cached: bool  # by the seed-only cache, or an earlier job of the plan trains it
    conversions: list[Path] = field(default_factory=list)  # GGUF files this job converts first
    finetune_pairs: int = 0  # teacher fine-tuning this job trains first (pairs x epochs, min_steps counted)
    placeholder_answers: int = 0  # simulated answers without a recorded completion to copy


class PlanState:
    """What the jobs of one plan share: task loads, backends, cache views, and what earlier jobs already did."""

    def __init__(self, book: RateBook) -> None:
        self.book = book
        self._samples: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
        self.setups: dict[str, dict[str, Any]] = {}
        self.first = FirstPrompts()
        self.task_seconds: dict[str, float] = {}  # measured task loads, by task name
        self._tasks: dict[str, tuple[Any, TaskData]] = {}
        self._backends: dict[str, Any] = {}
        self._tokens: dict[str, PromptTokens] = {}
        self._caches: dict[str, PlannedCache] = {}
        self.seed_only_done: set[Path] = set()
        self.converted: set[Path] = set()
        self.adapters: set[str] = set()
        self.backend_cfgs: dict[str, DictConfig] = {}

    def fresh(self) -> PlanState:
        """A new plan over the same loads, backends and tokenizers (after a probe added measurements)."""
        new = PlanState(self.book)
        new.setups, new.task_seconds, new.backend_cfgs = self.setups, self.task_seconds, self.backend_cfgs
        new._tasks, new._backends, new._tokens = self._tasks, self._backends, self._tokens
        return new

    def samples(self, setup: str, params: str, task: str) -> list[tuple[str, int]]:
        """Recorded completions of this backend and generation settings on this task."""
        key = (setup, params, task)
        if key not in self._samples:
            self._samples[key] = self.book.samples(setup, params, task)
        return self._samples[key]

    def load_task(self, task_cfg: DictConfig, seed: int) -> tuple[Any, TaskData]:
        key = f"{OmegaConf.to_yaml(task_cfg, resolve=True)}|{seed}"
        if key not in self._tasks:
            t0 = time.perf_counter()
            task = instantiate(task_cfg)
            self._tasks[key] = (task, task.load(seed))
            self.task_seconds.setdefault(task.name, time.perf_counter() - t0)
        return self._tasks[key]

    def backend(self, backend_cfg: DictConfig) -> tuple[Any, str]:
        """The backend object (instantiated, never loaded) and its speed setup id."""
        setup = backend_setup(backend_cfg)
        sid = setup_id(setup)
        if sid not in self._backends:
            self._backends[sid] = instantiate(backend_cfg)
            self.setups[sid] = setup
            self.backend_cfgs[sid] = backend_cfg
        return self._backends[sid], sid

    def tokens(self, sid: str) -> PromptTokens:
        if sid not in self._tokens:
            self._tokens[sid] = PromptTokens(_tokenizer(self._backends[sid]))
        return self._tokens[sid]

    def cache(self, cache_cfg) -> PlannedCache | None:
        if cache_cfg is None or not cache_cfg.get("enabled", True):
            return None
        url = cache_cfg.get("url")
        where = str(url) if url else str(sqlite_path(cache_cfg, cache_root()))
        if where not in self._caches:
            self._caches[where] = PlannedCache(stored_answers(url) if url else StoredAnswers(Path(where)))
        return self._caches[where]

    def close(self) -> None:
        for cache in self._caches.values():
            cache.stored.close()


def dry_run(cfg: DictConfig, state: PlanState) -> JobQueries:
    """Plan one job's queries; raises what the real run would raise before its first query."""
    exp = prepare(cfg, load_task=state.load_task)
    task, data, budget = exp.task, exp.data, exp.budget
    teacher, teacher_sid = state.backend(cfg.teacher.backend)
    augmenter, augmenter_sid = (state.backend(cfg.augmenter.backend) if cfg.get("augmenter")
                                else (teacher, teacher_sid))
    judge, judge_sid = state.backend(cfg.judge.backend) if cfg.get("judge") else (teacher, teacher_sid)
    model_id, finetune_pairs = teacher.model_id, 0
    check_priced(exp.budget_usd, exp.budget, {"teacher": teacher, "augmenter": augmenter,
                                              **({"judge": judge} if exp.verifier.name == "judge" else {})})
    if exp.teacher_finetune is not None and exp.spends:
        key = adapter_key(model_id, task.sft_pairs(data.seed), exp.teacher_finetune,
                          device_accelerator(resolve_device(cfg.teacher.backend.get("device", "auto")).type))
        model_id = f"{model_id}+lora-{key}"  # what HFTeacher.attach_adapter names the tuned teacher
        adapter = cache_root() / "teacher_adapters" / key / "adapter_config.json"
        # This job trains the adapter (task.sft_pairs) unless one is cached or an earlier job of the plan trains it.
        if not (shares_results(cfg) and (adapter.exists() or key in state.adapters)):
            finetune_pairs = exp.teacher_finetune.pair_epochs(len(data.seed))
            state.adapters.add(key)

    calls: list[PlannedCall] = []
    placeholder = placeholder_for(data.kind, data.labels)

    def simulated(sid: str, backend_cfg: DictConfig, name: str, real) -> SimulatedTeacher:
        sim = SimulatedTeacher(name, sid, task.name, backend_batch_size(backend_cfg), state.tokens(sid),
                               lambda s, p: state.samples(s, p, task.name), placeholder, calls, state.first)
        sim.price = real.price  # a dollar budget holds and settles at the real backend's price
        return sim

    sim_teacher = simulated(teacher_sid, cfg.teacher.backend, model_id, teacher)
    sim_augmenter = sim_teacher if augmenter is teacher else simulated(augmenter_sid, cfg.augmenter.backend,
                                                                        augmenter.model_id, augmenter)
    sim_judge = sim_teacher if judge is teacher else simulated(judge_sid, cfg.judge.backend, judge.model_id, judge)
    ledger = QueryLedger(budget, exp.budget_usd)
    cache = state.cache(cfg.get("cache"))
    hits_before = cache.stored_hits if cache is not None else 0
    ctx = generation_context(cfg, exp, sim_teacher, sim_augmenter, sim_judge, ledger=ledger, progress=None,
                             batch_size=int(cfg.query_batch_size), journal=None, cache=cache)
    for sim in {sim_teacher, sim_augmenter}:  # rewrites and new inputs go into later prompts: keep them apart
        sim.distinct = {params_key(ctx.text_params)}
    rows = exp.strategy.generate(ctx, exp.verifier, budget)
    summary = ledger.summary()
    cached = (cache.stored_hits - hits_before) if cache is not None else 0

    backends = {teacher_sid: teacher, augmenter_sid: augmenter, judge_sid: judge}
    paid_cost = total(backend_cost(backends[c.setup], c.prompt_tokens, c.completion_tokens) for c in calls)
    n_train = len(data.seed) + len(synthetic_examples(rows, data))
    seed_only_cached = False  # with cache.enabled=false every run trains its own
    if shares_results(cfg):
        seed_path = seed_only_path(cfg, task, exp.student, data)
        seed_only_cached = seed_path.exists() or seed_path in state.seed_only_done
        state.seed_only_done.add(seed_path)
    student_sid = setup_id(student := student_setup(cfg.student, task.name))
    state.setups[student_sid] = student
    train_steps, train_examples = training_work(cfg.student, n_train)
    seed_only_steps, seed_only_examples = training_work(cfg.student, len(data.seed))
    return JobQueries(
        budget=budget, used=summary["queries_used"], paid=summary["queries_paid"], cached=cached,
        reused=summary["queries_cached"] - cached, by_role=summary["queries_by_role"],
        prompt_tokens=summary["prompt_tokens"], completion_tokens=summary["completion_tokens"],
        paid_prompt_tokens=sum(c.prompt_tokens for c in calls),
        paid_completion_tokens=sum(c.completion_tokens for c in calls),
        cost_usd=run_cost(summary, {"teacher": teacher, "verifier": teacher, "judge": judge,
                                    "augmenter": augmenter})["cost_usd"],
        cost_usd_paid=paid_cost, rows=len(rows), n_seed=len(data.seed), n_train=n_train, n_test=len(data.test),
        train_steps=train_steps, train_examples=train_examples,
        seed_only_steps=seed_only_steps, seed_only_examples=seed_only_examples,
        calls=calls, task=task.name, teacher_setups=sorted({teacher_sid, augmenter_sid, judge_sid}),
        student_setup=student_sid,
        seed_only_cached=seed_only_cached, conversions=_conversions(cfg, exp.spends, state),
        finetune_pairs=finetune_pairs,
        placeholder_answers=sum(sim.simulated_with_placeholder for sim in {sim_teacher, sim_augmenter, sim_judge}),
    )


def _conversions(cfg: DictConfig, spends: bool, state: PlanState) -> list[Path]:
    """GGUF files this job dequantizes first (sgen.models.materialize): none cached, no earlier job converts them."""
    sources = []
    if spends:
        sources += [state.backend(cfg.teacher.backend)[0]]
        sources += [state.backend(cfg[role].backend)[0] for role in ("augmenter", "judge") if cfg.get(role)]
    found = []
    for backend in sources:
        source = backend.source if isinstance(backend, HFTeacher) and backend.source.gguf_file else None
        if source is None:
            continue
        target = converted_path(source)
        if not (target / "config.json").exists() and target not in state.converted:
            state.converted.add(target)
            found.append(Path(source.path) / str(source.gguf_file))
    return found


def _tokenizer(backend):
    """The tokenizer of a local transformers backend, without its weights; None for served backends (estimate)."""
    if not isinstance(backend, HFTeacher):
        return None
    if backend._model is not None:  # built in-process (tiny models): its tokenizer is already in memory
        return backend.tokenizer
    try:
        return _load_tokenizer(backend.source)
    except (OSError, ValueError) as exc:
        log.warning("cannot load the tokenizer of %s (%s): prompt tokens are estimated", backend.model_id, exc)
        return None


def _load_tokenizer(source: ModelSource):
    from transformers import AutoTokenizer

    if source.gguf_file:
        target = converted_path(source)
        if (target / "config.json").exists():
            return AutoTokenizer.from_pretrained(str(target))
        return AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
    return AutoTokenizer.from_pretrained(source.path)
