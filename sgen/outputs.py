"""What a run leaves on disk: the synthetic dataset (datasets + JSONL, with provenance) and metrics.json."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sgen.records import SyntheticRow


def write_synthetic(rows: list[SyntheticRow], output_dir: Path) -> list[dict[str, Any]]:
    """Every row, kept or not, with its prompts and raw teacher text: nothing paid for is thrown away."""
    from datasets import Dataset

    records = [r.to_json() for r in rows]
    with open(output_dir / "synthetic.jsonl", "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    # Nested provenance goes into the Arrow copy as JSON strings: Arrow needs one type per column.
    flat = [{**{k: v for k, v in rec.items() if k not in ("queries", "verifier")},
             "queries": json.dumps(rec["queries"], ensure_ascii=False),
             "verifier": json.dumps(rec["verifier"], ensure_ascii=False)} for rec in records]
    columns = ["text", "label", "strategy", "parse_status", "source_id", "target_label", "kept", "query_ids",
               "queries", "verifier"]
    Dataset.from_dict({c: [r[c] for r in flat] for c in columns}).save_to_disk(str(output_dir / "synthetic"))
    return records


def write_metrics(metrics: dict[str, Any], output_dir: Path) -> None:
    path = output_dir / "metrics.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(metrics), indent=2, sort_keys=True))
    tmp.replace(path)


def _finite(value):
    """JSON has no NaN: write null instead so every reader parses the file."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def flatten_metrics(d: dict[str, Any], sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """{"seed_only": {"accuracy": 0.3}} -> {"seed_only.accuracy": 0.3} (W&B groups its panels by "/")."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_metrics(value, sep, f"{name}{sep}"))
        else:
            out[name] = value
    return out
