"""The studies in results/ stand on their committed tables: each runs.csv rebuilds the committed recommendation,
cell and crossover tables with `python -m sgen.report` (nothing is rerun)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

STUDIES = sorted(p.parent for p in (REPO / "results").glob("*/runs.csv"))


def test_the_main_study_is_published():
    assert REPO / "results" / "ratio_grid_cpu" in STUDIES


@pytest.mark.parametrize("study", STUDIES, ids=lambda p: p.name)
def test_runs_table_rebuilds_the_published_tables(study: Path, tmp_path):
    from sgen.report.__main__ import main

    assert main([str(study / "runs.csv"), "--out", str(tmp_path), "--no-wandb"]) == 0
    for name in ("recommendations.csv", "cells.csv", "crossovers.csv"):
        rebuilt, published = pd.read_csv(tmp_path / name), pd.read_csv(study / name)
        pd.testing.assert_frame_equal(rebuilt, published, check_exact=False, rtol=1e-9)
    runs = pd.read_csv(study / "runs.csv")
    assert (runs["status"] == "ok").all(), runs.loc[runs["status"] != "ok", ["job", "error"]]
