"""A report never dies on a damaged run: each unreadable or malformed job file is named with its reason, the job is
listed as damaged (never ok), and the rest of the report builds."""
from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from sgen.report import load_sweep
from sgen.report.__main__ import main
from tests.report.sweep import tiny_sweep

DAMAGE = {  # grid job -> (file, bytes written, what the report must say about it)
    "0": ("metrics.json", os.urandom(64) + b"\xff\xfe", "metrics.json: unreadable"),
    "1": ("status.json", b"\x00\x9f" + os.urandom(32), "status.json: unreadable"),
    "2": ("metrics.json", b"[1, 2]", "metrics.json: holds a list, not a dict"),
    "3": (".hydra/overrides.yaml", b"- strategy=new_answer\n- : [unclosed\n", ".hydra/overrides.yaml: unreadable"),
    "4": ("config_resolved.yaml", b"task: {name: [tweet\n", "config_resolved.yaml: unreadable"),
    "5": ("status.json", b'{"status": "o', "status.json: unreadable"),  # truncated: never ok
}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("damaged") / "sweep"
    shutil.copytree(tiny_sweep(tmp_path_factory) / "grid", sweep)
    for job, (name, data, _) in DAMAGE.items():
        (sweep / job / name).write_bytes(data)
    return sweep


def test_each_damaged_file_is_named_with_its_reason_and_the_job_is_never_ok(damaged):
    table = load_sweep(damaged).set_index("job")
    for job, (_, _, said) in DAMAGE.items():
        assert table.loc[job, "status"] == "damaged", job
        assert said in table.loc[job, "error"], (job, table.loc[job, "error"])
    untouched = table.drop(index=list(DAMAGE))
    assert len(untouched) == 2 and (untouched["status"] == "ok").all()


def test_the_report_builds_around_damaged_runs(damaged, tmp_path):
    out = tmp_path / "report"
    assert main([str(damaged), "--out", str(out), "--no-wandb"]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert (runs["status"] == "damaged").sum() == len(DAMAGE)
    html = (out / "report.html").read_text()
    assert "status.json: unreadable" in html and "holds a list, not a dict" in html
