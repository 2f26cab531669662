"""`python -m sgen` end to end with tiny in-process models: what lands on disk is complete and reproducible."""
from __future__ import annotations

import json

import pytest
from datasets import load_from_disk

from tests.conftest import TINY, read_jsonl, read_metrics, run_sgen

VOLATILE = {"seconds", "peak_memory_mb"}


@pytest.fixture(scope="module")
def mix_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mix") / "run"
    # One true command line end to end (its own process); the other runs here take the same entry point in-process.
    run_sgen(*TINY, "strategy=mix", "verifier=majority", "budget.queries=120", "task.seed_size=30",
             f"hydra.run.dir={out}", subprocess_cli=True)
    return out


def test_metrics_json_is_complete(mix_run):
    m = read_metrics(mix_run)
    assert m["budget"] == 120 and m["seed_size"] == 30 and m["ratio"] == pytest.approx(4.0)
    assert m["queries_used"] <= 120 and m["queries_used"] >= 120 - 8
    assert sum(m["queries_by_role"].values()) == m["queries_used"] == m["queries_paid"] + m["queries_cached"]
    assert m["queries_by_role"]["augmenter"] > 0 and m["queries_by_role"]["verifier"] > 0
    assert m["prompt_tokens"] == sum(m["prompt_tokens_by_role"].values()) > 0
    assert m["n_seed"] == 30 and m["n_train"] == 30 + m["n_synthetic"]
    assert 0 <= m["parse_failure_rate"] <= 1 and 0 <= m["accuracy"] <= 1 and 0 <= m["macro_f1"] <= 1
    assert m["gain"]["accuracy"] == pytest.approx(m["accuracy"] - m["seed_only"]["accuracy"])
    assert set(m["seconds"]) >= {"load", "generate", "train", "eval", "train_seed_only"}
    assert json.loads((mix_run / "status.json").read_text())["status"] == "ok"


def test_synthetic_dataset_keeps_provenance(mix_run):
    m = read_metrics(mix_run)
    rows = read_jsonl(mix_run / "synthetic.jsonl")
    assert len(rows) == m["n_synthetic_generated"]
    assert {r["strategy"] for r in rows} == {"new_answer", "rephrase", "new_question"}
    kept = [r for r in rows if r["kept"] and r["label"] in ("negative", "neutral", "positive")]
    assert len(kept) == m["n_synthetic"]
    assert sum(r["parse_status"] != "ok" for r in rows) == round(m["parse_failure_rate"] * len(rows))
    # Every paid query sits in exactly one row, with its prompt and raw text.
    ids = [q for r in rows for q in r["query_ids"]]
    assert sorted(ids) == list(range(m["queries_used"]))
    for r in rows:
        for q in r["queries"]:
            assert q["prompt"][-1]["role"] == "user" and isinstance(q["text"], str)
            assert q["role"] in ("teacher", "augmenter", "verifier")
    ds = load_from_disk(str(mix_run / "synthetic"))
    assert ds.num_rows == len(rows) and ds["text"] == [r["text"] for r in rows]
    journal = read_jsonl(mix_run / "queries.jsonl")
    assert len(journal) == m["queries_used"]


def test_same_config_same_everything(mix_run, tmp_path):
    again = tmp_path / "again"
    run_sgen(*TINY, "strategy=mix", "verifier=majority", "budget.queries=120", "task.seed_size=30",
             f"hydra.run.dir={again}")
    a, b = read_metrics(mix_run), read_metrics(again)
    strip = lambda m: {k: v for k, v in m.items() if k not in VOLATILE | {"queries_cached", "queries_paid"}}
    assert strip(a) == strip(b)
    pick = lambda d: [(r["text"], r["label"], r["parse_status"]) for r in read_jsonl(d / "synthetic.jsonl")]
    assert pick(mix_run) == pick(again)


def test_ratio_and_budget_groups(tmp_path):
    out = tmp_path / "r"
    run_sgen(*TINY, "budget=300q", "task.seed_size=25", "strategy=rephrase", f"hydra.run.dir={out}")
    m = read_metrics(out)
    assert m["budget"] == 300 and m["ratio"] == 12.0
    assert m["queries_by_role"] == {"teacher": 0, "augmenter": 300, "verifier": 0, "judge": 0}


def test_zero_budget_trains_on_seed_only_and_says_so(tmp_path):
    out = tmp_path / "z"
    proc = run_sgen(*TINY, "budget=0q", f"hydra.run.dir={out}")
    m = read_metrics(out)
    assert m["n_synthetic"] == 0 and m["n_train"] == m["n_seed"] and m["queries_used"] == 0
    assert m["accuracy"] == m["seed_only"]["accuracy"]
    assert "training the student on the seed set only" in proc.stdout + proc.stderr


def test_a_sweep_shares_one_wandb_group_with_strategy_job_types_and_coordinate_tags(tmp_path, monkeypatch):
    import wandb

    from sgen.report import load_sweep
    from sgen.report.wandb_summary import wandb_target

    inits = []
    real_init = wandb.init
    monkeypatch.setattr(wandb, "init", lambda **kw: inits.append(kw) or real_init(**kw))
    sweep = tmp_path / "sweep"
    run_sgen("-m", *TINY, "logger=wandb", "strategy=rephrase,new_answer", "budget=100q", "task.seed_size=25",
             f"hydra.sweep.dir={sweep}", env={"WANDB_API_KEY": "", "WANDB_MODE": "offline"})
    assert len(inits) == 2
    assert {kw["group"] for kw in inits} == {str(sweep.parent.name + "/" + sweep.name)}  # the sweep, not the task
    assert sorted(kw["job_type"] for kw in inits) == ["new_answer", "rephrase"]
    assert all({"budget=100", "seed_size=25", "ratio=4"} <= set(kw["tags"]) for kw in inits)
    # The report's summary run joins the same group.
    assert wandb_target(load_sweep(sweep), sweep)["group"] == inits[0]["group"]


def test_wandb_logger_runs_offline(tmp_path):
    out = tmp_path / "w"
    run_sgen(*TINY, "logger=wandb", "budget=100q", f"hydra.run.dir={out}", env={"WANDB_API_KEY": ""})
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))
    assert read_metrics(out)["accuracy"] >= 0
