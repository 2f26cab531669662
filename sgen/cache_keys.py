"""Keys of the caches that hold results (seed-only scores, teacher adapters, converted weights).

A key is built from what the cached result depends on: the resolved config node, less the result-neutral keys, and
a content hash of the data read. Never from a file's name or a row's position: a file rewritten in place, or two
files whose rows line up, must not share a result.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Config keys that do not change a run's results, at any depth: a rerun that differs only in these is the same run.
RESULT_NEUTRAL_KEYS = ("paths", "progress", "cache", "install_hint")


def result_config(node: DictConfig | dict | None) -> Any:
    """The resolved config node as plain data, without the result-neutral keys."""
    if node is None:
        return None
    data = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
    return _without_neutral(data)


def _without_neutral(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_neutral(v) for k, v in data.items() if k not in RESULT_NEUTRAL_KEYS}
    if isinstance(data, (list, tuple)):
        return [_without_neutral(v) for v in data]
    return data


def content_digest(items: Iterable[Any], ordered: bool = True) -> str:
    """A hash of the items' content (JSON of each); `ordered=False` when their order does not change the result."""
    lines = [json.dumps(item, sort_keys=True, default=str, ensure_ascii=False) for item in items]
    digest = hashlib.blake2b(digest_size=16)
    for line in lines if ordered else sorted(lines):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def examples_digest(examples: Iterable[Any]) -> str:
    """What a student reads of each example: its text and label, in order (ids are positions, not content)."""
    return content_digest((e.text, e.label) for e in examples)


def file_digest(path: Path) -> str:
    """The content hash of a file (blake2b: about 0.25 s for the 98 MB bundled GGUF here)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def cache_key(parts: dict[str, Any], length: int = 20) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]
