"""The report of a real tiny sweep (8 grid jobs + 1 failed job): table, files, plots and HTML hold the runs."""
from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from sgen.report import load_sweep, plot_score_vs_cost, plot_score_vs_ratio, summarize
from sgen.report.html import format_value, render_plots
from tests.report.sweep import GRID_JOBS, tiny_report, tiny_sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    return tiny_sweep(tmp_path_factory)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return tiny_report(tmp_path_factory)[1]


@pytest.fixture(scope="module")
def table(sweep) -> pd.DataFrame:
    return load_sweep(sweep)


def test_table_has_every_grid_run_with_its_metrics(table, sweep):
    ok = table[table["status"] == "ok"]
    assert len(table) == 9 and len(ok) == 8
    assert set(zip(ok["strategy"], ok["budget"], ok["seed_size"])) == GRID_JOBS
    for row in ok.to_dict("records"):
        metrics = json.loads((sweep / row["job"] / "metrics.json").read_text())
        for key in ("accuracy", "macro_f1", "queries_paid", "queries_used", "n_synthetic", "parse_failure_rate"):
            assert row[key] == metrics[key], key
        assert row["seed_only.accuracy"] == metrics["seed_only"]["accuracy"]
        assert row["seconds.generate"] == metrics["seconds"]["generate"]
        assert row["ratio"] == pytest.approx(row["budget"] / row["seed_size"])
        assert row["tokens"] == metrics["prompt_tokens"] + metrics["completion_tokens"] > 0
        assert f"strategy={row['strategy']}" in row["overrides"] and row["wall_seconds"] > 0


def test_failed_job_is_a_row_with_its_error(table):
    [failed] = table[table["status"] != "ok"].to_dict("records")
    assert failed["status"] == "failed" and failed["job"] == "broken/0"
    assert "task.seed_size=100000" in failed["error"] and "ValueError" in failed["error"]
    # Its coordinates come from its config, so it shows up where it belongs in the grid.
    assert failed["seed_size"] == 100000 and failed["strategy"] == "new_answer" and failed["budget"] == 300
    assert pd.isna(failed["accuracy"])


def test_csv_and_parquet_hold_the_same_runs(report, table):
    for loaded in (pd.read_csv(report / "runs.csv"), pd.read_parquet(report / "runs.parquet")):
        assert loaded["job"].tolist() == table["job"].tolist()
        assert loaded["status"].tolist() == table["status"].tolist()
        assert loaded["accuracy"].tolist() == pytest.approx(table["accuracy"].tolist(), nan_ok=True)
    recs = pd.read_csv(report / "recommendations.csv")
    assert len(recs) == 4  # one per (seed size, ratio) grid point
    assert set(recs["best"]) <= {"new_answer", "rephrase"}
    assert list(pd.read_csv(report / "crossovers.csv").columns)[:4] == ["task", "seed_size", "method_a", "method_b"]
    cells = pd.read_csv(report / "cells.csv")
    assert len(cells) == 8 and (cells["n"] == 1).all()
    assert cells["ci_low"].isna().all() and cells["ci_high"].isna().all()  # one seed per cell: no interval
    # Two budgets per method: no learning curve, and the extrapolation table says why for each pair.
    extrapolated = pd.read_csv(report / "extrapolated_crossovers.csv")
    assert len(extrapolated) == 2 and extrapolated["note"].str.contains("2 distinct budget").all()
    assert pd.read_csv(report / "curves.csv")["note"].str.contains("needs at least 3").all()


def test_ratio_plot_draws_the_cell_means(table):
    fig = plot_score_vs_ratio(table)
    cells = summarize(table)
    assert len(fig.axes) == 2  # one panel per seed size
    for ax, seed_size in zip(fig.axes, (50, 100)):
        assert ax.get_title().endswith(f"seed size {seed_size}")
        drawn = {}
        for container in ax.containers:  # one errorbar container per method
            x, y = container.lines[0].get_data()
            drawn[container.get_label()] = dict(zip(x, y))
        want = cells[cells["seed_size"] == seed_size]
        assert set(drawn) == set(want["method"])
        for cell in want.itertuples():
            assert drawn[cell.method][cell.ratio] == pytest.approx(cell.mean)


def test_cost_plot_has_one_point_per_finished_run(table):
    for cost in ("queries_paid", "tokens"):
        fig = plot_score_vs_cost(table, cost=cost)
        points = [tuple(p) for coll in fig.axes[0].collections for p in coll.get_offsets()]
        ok = table[table["status"] == "ok"]
        assert sorted(points) == sorted(zip(ok[cost].astype(float), ok["accuracy"]))
    with pytest.raises(ValueError, match="wall_seconds"):
        plot_score_vs_cost(table, cost="wall_seconds")


def test_dollars_on_the_x_axis_once_runs_have_a_price(table):
    free = render_plots(table)
    assert "score_vs_cost_usd" not in free  # local weights nobody priced: every run cost $0
    priced = table.assign(cost_usd=table["tokens"].astype(float) * 2e-6)  # $2 per million tokens
    assert "score_vs_cost_usd" in render_plots(priced)
    fig = plot_score_vs_cost(priced, cost="cost_usd")
    points = [tuple(p) for coll in fig.axes[0].collections for p in coll.get_offsets()]
    ok = priced[priced["status"] == "ok"]
    want = sorted(zip(ok["cost_usd"], ok["accuracy"]))
    assert len(points) == len(want) and all(p == pytest.approx(w) for p, w in zip(sorted(points), want))
    assert "USD" in fig.axes[0].get_xlabel()


def test_png_plots_are_real_images(report):
    for name in ("score_vs_ratio", "score_vs_queries_paid", "score_vs_tokens", "score_vs_diversity"):
        image = mpimg.imread(report / f"{name}.png")
        assert image.shape[0] > 300 and image.shape[1] > 400 and image.std() > 0.01


def test_html_is_self_contained_and_holds_every_run(report, table):
    text = (report / "report.html").read_text()
    srcs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in text and "<link" not in text and "http://" not in text and "https://" not in text
    for row in table.itertuples():
        assert f">{row.job}<" in text
        if row.status == "ok":
            assert f">{format_value(row.accuracy)}<" in text and f">{format_value(row.tokens)}<" in text
    assert "task.seed_size=100000 is larger" in text
    assert re.search(r"At ratio \d+ with seed size (50|100), use", text)
    for section in ("Grid cells", "Crossovers within the grid", "Predicted crossovers beyond the grid",
                    "Trust: contamination and diversity"):
        assert f">{section}" in text


def test_cli_writes_the_report(sweep, tmp_path):
    from tests.conftest import REPO
    import subprocess
    import sys

    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "sgen.report", str(sweep), "--out", str(out), "--metric",
                           "macro_f1", "--no-wandb"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "9 jobs" in proc.stderr
    assert pd.read_csv(out / "runs.csv").shape[0] == 9
    assert "metric <b>macro_f1</b>" in (out / "report.html").read_text()
    assert not (out / "wandb").exists()


def test_cli_names_a_missing_sweep_or_metric(tmp_path, sweep, caplog):
    from sgen.report.__main__ import main

    assert main([str(tmp_path / "nope")]) == 2
    assert "does not exist" in caplog.text and not (tmp_path / "nope").exists()
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no job folders" in caplog.text
    assert main([str(sweep), "--out", str(tmp_path / "r"), "--metric", "acuracy"]) == 2
    assert "'acuracy' is not a column" in caplog.text and "accuracy" in caplog.text


def test_wandb_summary_run_lands_offline(sweep, tmp_path, monkeypatch):
    from sgen.report import build_report
    from sgen.report.build import uses_wandb

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    table = load_sweep(sweep)
    assert not uses_wandb(table)  # the sweep logged to CSV: no W&B run unless asked
    files = build_report(sweep, tmp_path / "r", wandb=True)
    run_dir = files.wandb_dir
    assert run_dir is not None and run_dir.name.startswith("offline-run-")
    assert len(list(run_dir.glob("run-*.wandb"))) == 1  # ready for `wandb sync`
    media = run_dir / "files" / "media"
    [runs] = media.glob("table/runs_*.table.json")
    logged = json.loads(runs.read_text())
    assert len(logged["data"]) == 9 and "accuracy" in logged["columns"]
    assert len(list(media.glob("table/recommendations_*.table.json"))) == 1
    assert sorted(p.name.rsplit("_", 2)[0] for p in media.glob("images/plots/*.png")) == [
        "score_vs_diversity", "score_vs_queries_paid", "score_vs_ratio", "score_vs_tokens"]
    [page] = media.glob("html/report_*.html")
    assert "All runs" in page.read_text()


def test_wandb_report_failure_is_a_warning_not_an_error(monkeypatch, caplog):
    from sgen.report.wandb_summary import create_wandb_report

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert create_wandb_report({"project": "sgen", "group": "g"}, "nobody", "accuracy", "sweep") is None
    assert "could not create a W&B Report" in caplog.text


def test_methods_keep_verifier_and_teacher_finetuning_arms_apart():
    from sgen.report.gather import _finetune_method, method_name

    assert method_name("new_answer", "none", None) == "new_answer"
    assert method_name("new_answer", "majority", None) == "new_answer+majority"
    assert method_name("new_answer", None, "lora") == "new_answer+teacher-lora"
    assert [_finetune_method(v) for v in (None, "none", "null", "lora", {"method": "lora", "r": 4})] == \
        [None, None, None, "lora", "lora"]


def test_several_sweeps_make_one_report(sweep, tmp_path, caplog):
    from sgen.report.__main__ import main

    assert main([str(sweep / "grid"), str(sweep / "broken")]) == 2  # where would it go? say so
    assert "needs an output folder" in caplog.text
    assert main([str(sweep / "grid"), str(sweep / "broken"), "--out", str(tmp_path / "both"), "--no-wandb"]) == 0
    runs = pd.read_csv(tmp_path / "both" / "runs.csv")
    assert len(runs) == 9 and runs["job"].str.startswith(("grid/", "broken/")).all()
    assert "broken/0" in set(runs["job"])


def test_a_published_runs_table_rebuilds_the_same_report(report, tmp_path, caplog):
    from sgen.report.__main__ import main

    assert main([str(report / "runs.csv")]) == 2 and "needs an output folder" in caplog.text
    assert main([str(report / "runs.csv"), "--out", str(tmp_path / "again"), "--no-wandb"]) == 0
    for name in ("recommendations.csv", "cells.csv", "crossovers.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again" / name), pd.read_csv(report / name))


def test_trust_table_has_each_method_audit_and_diversity(report, table):
    trust = pd.read_csv(report / "trust.csv")
    ok = table[table["status"] == "ok"]
    assert set(trust["method"]) == set(ok["method"]) and trust["n"].sum() == len(ok)
    # Every finished run was audited: a contaminated share in [0, 1] and a Vendi score of at least 1 (one item).
    assert ok["contamination.rate"].between(0, 1).all() and (ok["diversity.vendi_synthetic"] >= 1 - 1e-9).all()
    for method, runs in ok.groupby("method"):
        row = trust[trust["method"] == method].iloc[0]
        assert row["vendi_synthetic"] == pytest.approx(runs["diversity.vendi_synthetic"].mean())
        assert row["contaminated_share"] == pytest.approx(runs["contamination.rate"].mean())
