"""One experiment: seed set -> teacher queries under a budget -> synthetic set -> student -> scores on disk."""
from __future__ import annotations

import json
import logging
import os
import resource
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack, closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sgen.assets import cache_root
from sgen.audit.run_audit import audit_synthetic, decontaminated, write_contamination
from sgen.budget import MeteredTeacher, QueryLedger, open_query_cache
from sgen.budget.journal import QueryJournal
from sgen.budget.metered import GenerationProgress
from sgen.cache_keys import cache_key, examples_digest, result_config
from sgen.config import quiet_third_party_logs
from sgen.errors import input_checks
from sgen.redact import redact_config
from sgen.outputs import write_metrics, write_synthetic
from sgen.records import GenerationParams, SyntheticRow, TaskData
from sgen.run_checks import check_priced, check_run_settings
from sgen.strategies import GenerationContext
from sgen.synthetic_stats import baseline_metrics, compared, synthetic_examples, synthetic_stats
from sgen.teachers.finetune import TeacherFinetune, check_finetunable, finetune_teacher
from sgen.teachers.pricing import run_cost
from sgen.throughput import CallLog, record_run, timed_backends
from sgen.tracking import Tracker

log = logging.getLogger(__name__)


class StageTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run one configured experiment and return its metrics. One ExitStack owns every resource the run opens (the
    tracker, the teachers, the query cache, the journal), so each is closed, in reverse order, even on failure."""
    quiet_third_party_logs()
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with input_checks():  # an interpolation that cannot resolve (budget=ratio budget.ratio=-2) is the user's
        # What is written (config_resolved.yaml, W&B) shows any URL's password as *** (SGEN_CACHE_URL).
        resolved = redact_config(OmegaConf.to_container(cfg, resolve=True))
    (output_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(resolved)))
    with ExitStack() as resources:
        tracker: Tracker = instantiate(cfg.logger)
        resources.push(lambda exc_type, exc, tb: tracker.finish(failed=exc_type is not None))
        tracker.start(resolved, output_dir)
        return _run(cfg, output_dir, tracker, resources)


@dataclass
class Experiment:
    """The built, validated parts of one run; nothing here has spent a query yet."""

    task: Any
    strategy: Any
    verifier: Any
    student: Any
    data: TaskData
    budget: int | None  # queries; None: a dollar budget without a count
    budget_usd: float | None = None
    teacher: Any = None
    augmenter: Any = None
    judge: Any = None  # verifier=judge's model: the teacher unless judge=... names another
    finetuned: Any = None
    cache: Any = None  # the query cache (SQLite or PostgreSQL); None when cache.enabled=false
    teacher_finetune: TeacherFinetune | None = None
    calls: CallLog = field(default_factory=CallLog)  # teacher backend calls, timed (sgen.throughput)

    @property
    def spends(self) -> bool:
        """Whether the budget pays for any query (a 0 budget trains on the seed set alone)."""
        return self.budget != 0 and self.budget_usd != 0

    def describe_budget(self) -> str:
        parts = ([f"{self.budget} queries"] if self.budget is not None else []) \
            + ([f"${self.budget_usd:g}"] if self.budget_usd is not None else [])
        return " and ".join(parts)


def _run(cfg: DictConfig, output_dir: Path, tracker: Tracker, resources: ExitStack) -> dict[str, Any]:
    timer = StageTimer()
    if not shares_results(cfg):
        log.info("cache.enabled=false: no query cache; seed-only scores and teacher adapters are kept in %s; "
                 "converted GGUF weights stay cached", output_dir)
    exp = build(cfg, timer, resources, output_dir)
    with timer.stage("generate"):
        rows, ledger = generate(cfg, exp, output_dir, resources)
    with timer.stage("write"):
        records = write_synthetic(rows, output_dir)
    synthetic = synthetic_examples(rows, exp.data)
    with timer.stage("audit"):  # before training: a researcher must see contamination before trusting a gain
        audit = audit_synthetic(exp.task, exp.student, exp.data, synthetic)
        write_contamination(audit, synthetic, exp.data.test, output_dir / "contamination.jsonl")
    train = list(exp.data.seed) + decontaminated(audit, synthetic, exp.task.decontaminate)
    if len(train) == len(exp.data.seed):
        log.warning("no usable synthetic rows (%d generated): training the student on the seed set only", len(rows))
    with timer.stage("train_seed_only"):
        seed_only = seed_only_scores(cfg, exp.task, exp.student, exp.data, output_dir)
    with timer.stage("train"):
        result = exp.student.train_and_evaluate(train, exp.data.test, exp.data.labels, int(cfg.seed),
                                                loggers=tracker.lightning_loggers(), task=exp.task)
    timer.seconds["eval"] = result.seconds_eval
    timer.seconds["train"] -= result.seconds_eval
    scores = result.metrics()

    metrics = {**collect_metrics(cfg, exp, rows, ledger, train, scores, seed_only, timer), **audit.metrics()}
    write_metrics(metrics, output_dir)
    record_run(cfg, exp, metrics)
    tracker.log_metrics(metrics)
    tracker.log_rows(records)
    log.info("accuracy %.4f (seed only %.4f, gain %+.4f), macro-F1 %s; %d synthetic rows kept of %d; "
             "%d queries used (budget %s); metrics in %s", scores["accuracy"], seed_only["accuracy"], metrics["gain"]["accuracy"],
             scores.get("macro_f1"), metrics["n_synthetic"], len(rows), ledger.used, exp.describe_budget(),
             output_dir / "metrics.json")
    return metrics


def build(cfg: DictConfig, timer: StageTimer, resources: ExitStack, output_dir: Path | None = None) -> Experiment:
    """Instantiate and validate everything, then load the models: bad input fails before any query is spent."""
    with timer.stage("load"), input_checks():
        exp = prepare(cfg)
    task, teacher_finetune = exp.task, exp.teacher_finetune
    ratio = "" if exp.budget is None else f" = ratio {exp.budget / len(exp.data.seed):.2f}"
    log.info("budget %s / seed set %d%s; strategy %s, verifier %s", exp.describe_budget(), len(exp.data.seed),
             ratio, exp.strategy.name, exp.verifier.name)
    with timer.stage("load"), input_checks():  # a wrong model path, server address or key, an unreachable cache
        exp.teacher = instantiate(cfg.teacher.backend)
        resources.callback(exp.teacher.close)
        if teacher_finetune is not None:  # before a served teacher's connection check: it is not the problem
            check_finetunable(exp.teacher)
        exp.augmenter = instantiate(cfg.augmenter.backend) if cfg.get("augmenter") else exp.teacher
        if exp.augmenter is not exp.teacher:
            resources.callback(exp.augmenter.close)
        exp.judge = instantiate(cfg.judge.backend) if cfg.get("judge") else exp.teacher
        if exp.judge is not exp.teacher:
            resources.callback(exp.judge.close)
        check_priced(exp.budget_usd, exp.budget, paying_backends(exp))
        if exp.spends:
            for backend in {id(b): b for b in paying_backends(exp).values()}.values():
                backend.load()
        # Once every backend is known good (a served teacher's check is in load): nothing, not even the cache file,
        # is created for input that fails; a cache server that cannot be reached fails here, still before any query.
        exp.cache = open_query_cache(cfg.get("cache"), cache_root())
        if exp.cache is not None:
            resources.callback(exp.cache.close)
    # Kaddour & Liu: the teacher first learns the seed set (LoRA); the adapter is cached per seed set and teacher.
    if teacher_finetune is not None and exp.spends:
        with timer.stage("finetune_teacher"):
            exp.finetuned = finetune_teacher(exp.teacher, task, exp.data.seed, teacher_finetune,
                                             results_dir(cfg, output_dir) / "teacher_adapters")
    return exp


def paying_backends(exp: Experiment) -> dict[str, Any]:
    """The backend of each role that answers queries in this run (the judge's only under verifier=judge)."""
    backends = {"teacher": exp.teacher, "augmenter": exp.augmenter}
    if exp.verifier.name == "judge":
        backends["judge"] = exp.judge
    return backends


def prepare(cfg: DictConfig, load_task: Callable[[DictConfig, int], tuple[Any, TaskData]] | None = None) -> Experiment:
    """Task data, strategy, verifier and student, validated; no teacher yet (the sweep plan stops here too).
    `load_task(cfg.task, seed) -> (task, data)` replaces building and loading the task (a plan reuses loads)."""
    budget, usd = check_run_settings(cfg)
    task, data = (load_task or _load_task)(cfg.task, int(cfg.seed))
    exp = Experiment(task, instantiate(cfg.strategy), instantiate(cfg.verifier), instantiate(cfg.student), data,
                     budget, usd, teacher_finetune=TeacherFinetune.from_config(cfg.teacher.get("finetune")))
    exp.strategy.check(exp.data, budget, exp.verifier)
    if cfg.get("judge") and exp.verifier.name != "judge":
        raise ValueError(f"judge=... names the model of verifier=judge, but the verifier is {exp.verifier.name}; "
                         "add verifier=judge or leave judge unset")
    kinds = exp.student.kinds
    if task.kind not in kinds:
        raise ValueError(f"task {task.name!r} is a {task.kind} task but student {cfg.student._target_} learns "
                         f"only {', '.join(kinds)}; for generation use student=sft or student=seq2seq")
    return exp


def _load_task(task_cfg: DictConfig, seed: int) -> tuple[Any, TaskData]:
    task = instantiate(task_cfg)
    return task, task.load(seed)


def generate(cfg: DictConfig, exp: Experiment, output_dir: Path,
             resources: ExitStack) -> tuple[list[SyntheticRow], QueryLedger]:
    """Spend the budget: every call goes through a metered client backed by the durable query cache."""
    ledger = QueryLedger(exp.budget, exp.budget_usd)
    cache = exp.cache
    journal = resources.enter_context(closing(QueryJournal(output_dir / "queries.jsonl")))
    progress = resources.enter_context(closing(GenerationProgress(ledger, enabled=bool(cfg.progress))))
    teacher, augmenter, judge = timed_backends(cfg, exp.teacher, exp.augmenter, exp.judge, exp.calls)
    ctx = generation_context(cfg, exp, teacher, augmenter, judge, ledger=ledger, progress=progress,
                             batch_size=int(cfg.query_batch_size), journal=journal, cache=cache)
    rows = exp.strategy.generate(ctx, exp.verifier, exp.budget)
    progress.close()  # the bar ends with generation, not with the run
    return rows, ledger


def generation_context(cfg: DictConfig, exp: Experiment, teacher, augmenter, judge, **meter) -> GenerationContext:
    """What the strategy sees: metered clients over these backends (the sweep plan passes simulated ones)."""
    task = exp.task
    return GenerationContext(
        prompts=task.prompts, data=exp.data,
        teacher=MeteredTeacher(teacher, role="teacher", **meter),
        augmenter=MeteredTeacher(augmenter, role="augmenter", **meter),
        verifier_client=MeteredTeacher(teacher, role="verifier", **meter),
        judge_client=MeteredTeacher(judge, role="judge", **meter),
        ledger=meter["ledger"], seed=int(cfg.seed), few_shot=task.few_shot, few_shot_sets=task.few_shot_sets,
        # A generation task lays its own answer / question settings over the teacher's (CoT needs more tokens).
        label_params=GenerationParams(**{**cfg.teacher.label_generation, **task.answer_generation}),
        text_params=GenerationParams(**{**cfg.teacher.text_generation, **task.question_generation}),
        round_size=int(cfg.round_size), answer_key=task.answer_key,
    )


def collect_metrics(cfg: DictConfig, exp: Experiment, rows: list[SyntheticRow], ledger: QueryLedger,
                    train: list, scores: dict[str, Any], seed_only: dict[str, float],
                    timer: StageTimer) -> dict[str, Any]:
    data = exp.data
    return {
        "task": exp.task.name, "strategy": exp.strategy.name, "verifier": exp.verifier.name, "seed": int(cfg.seed),
        "teacher": exp.teacher.model_id, "augmenter": exp.augmenter.model_id,
        "judge_model": exp.judge.model_id if exp.verifier.name == "judge" else None,
        "teacher_finetune": asdict(exp.finetuned) if exp.finetuned is not None else None,
        # Under a dollar budget without a count, the ratio is the one the dollars bought.
        "budget": exp.budget, "seed_size": len(data.seed),
        "ratio": (ledger.used if exp.budget is None else exp.budget) / len(data.seed),
        "n_seed": len(data.seed), "n_train": len(train),
        **synthetic_stats(rows, data, exp.task),
        **scores,
        "seed_only": seed_only,
        "gain": {k: v - seed_only[k] for k, v in compared(scores).items() if k in seed_only},
        **baseline_metrics(data, exp.task),
        **ledger.summary(),
        **run_cost(ledger.summary(), {"teacher": exp.teacher, "verifier": exp.teacher, "judge": exp.judge,
                                      "augmenter": exp.augmenter}),
        "seconds": timer.seconds,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def seed_only_scores(cfg: DictConfig, task, student, data: TaskData, output_dir: Path | None = None) -> dict[str, float]:
    """The student trained on the seed set alone: identical for every strategy and budget, so computed once."""
    path = seed_only_path(cfg, task, student, data, output_dir)
    if path.exists():
        log.info("seed-only score from cache %s", path)
        return json.loads(path.read_text())
    result = compared(student.train_and_evaluate(data.seed, data.test, data.labels, int(cfg.seed), task=task).scores)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: atomic on a local disk and on NFS, so jobs on several nodes sharing
    # SGEN_CACHE_DIR (cache.url set) never read half a file; the temp name is unique across hosts.
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return result


def shares_results(cfg: DictConfig) -> bool:
    """Whether runs share their seed-only scores and teacher adapters through the sgen cache (cache.enabled)."""
    cache = cfg.get("cache")
    return cache is None or bool(cache.get("enabled", True))


def results_dir(cfg: DictConfig, output_dir: Path | None) -> Path:
    """Where seed-only scores and teacher adapters are kept: the sgen cache, shared by every run on the machine, or
    with cache.enabled=false the run's own folder (reused only when that run resumes). Converted GGUF weights stay
    in the sgen cache either way: a format change keyed on the file's content cannot go stale."""
    if shares_results(cfg):
        return cache_root()
    if output_dir is None:
        raise ValueError("cache.enabled=false keeps results in the run's folder, but none was given")
    return output_dir


def seed_only_path(cfg: DictConfig, task, student, data: TaskData, output_dir: Path | None = None) -> Path:
    """Where the seed-only scores of this task, seed set and student are cached: shared by every run, or kept in
    the run's own folder when cache.enabled=false."""
    # The audit settings change what trains beside the seed set, never the seed-only score.
    task_config = {k: v for k, v in result_config(cfg.task).items() if k not in ("decontaminate", "contamination")}
    key = cache_key({"task": task_config, "student": result_config(cfg.student),
                     "resolved_student": student.fingerprint(), "seed": int(cfg.seed),
                     "seed_set": examples_digest(data.seed), "test_set": examples_digest(data.test),
                     "labels": list(data.labels)})
    return results_dir(cfg, output_dir) / "seed_only" / f"{key}.json"
