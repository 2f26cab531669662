"""One query, one answer: a query's text depends only on the query (its cache key seeds its sampling stream), never
on the chunk it was asked in, the engine's batch, or what an earlier run left in the cache."""
from __future__ import annotations

import pytest

from sgen.run import run
from tests.conftest import read_jsonl


def rows(tiny_cfg, tmp_path, name: str, *overrides: str) -> list[tuple]:
    cfg = tiny_cfg(f"paths.output_dir={tmp_path / name}", *overrides)
    run(cfg)
    return [(r["text"], r["label"], r["source_id"], r["sample_index"], r["parse_status"])
            for r in read_jsonl(tmp_path / name / "synthetic.jsonl")]


@pytest.mark.parametrize("strategy", ["rephrase", "new_question"])
def test_a_run_after_a_smaller_one_equals_a_fresh_run(tiny_cfg, tmp_path, strategy):
    shared, fresh = f"cache.path={tmp_path / 'shared.sqlite'}", f"cache.path={tmp_path / 'fresh.sqlite'}"
    common = [f"strategy={strategy}", "task.seed_size=30", "query_batch_size=64"]
    rows(tiny_cfg, tmp_path, "small", *common, "budget.queries=100", shared)
    after = rows(tiny_cfg, tmp_path, "after", *common, "budget.queries=300", shared)
    alone = rows(tiny_cfg, tmp_path, "alone", *common, "budget.queries=300", fresh)
    assert len(after) >= 140 and after == alone
    assert len({r[0] for r in after}) > len(after) // 2  # sampled texts, not one repeated string


def test_chunk_and_batch_sizes_do_not_change_the_rows(tiny_cfg, tmp_path):
    common = ["strategy=rephrase", "task.seed_size=20", "budget.queries=90"]
    found = [rows(tiny_cfg, tmp_path, f"b{size}", *common, f"query_batch_size={size}",
                  f"teacher.backend.batch_size={size}", f"cache.path={tmp_path / f'c{size}.sqlite'}")
             for size in (1, 7, 64)]
    assert found[0] == found[1] == found[2]
    assert len(found[0]) == 90
