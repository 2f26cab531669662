"""Resolve a model reference (bundled carrier package, local dir, GGUF file or hub id) and load it.

GGUF files are dequantized by transformers on every load (about 15 s for SmolLM2), so the converted weights are
saved once under the sgen cache and later loads take the fast safetensors path.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sgen.assets import bundled_file, cache_root
from sgen.cache_keys import file_digest
from sgen.throughput import record_conversion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where weights come from: a hub id or local folder, plus an optional GGUF file inside it."""

    path: str
    gguf_file: str | None = None

    @property
    def model_id(self) -> str:
        return f"{self.path}/{self.gguf_file}" if self.gguf_file else self.path


def resolve_model(model: str, bundled_package: str | None = None, bundled_path: str | None = None,
                  setting: str = "model") -> ModelSource:
    """A bundled copy wins when its carrier package is installed; otherwise `model` (hub id, dir or .gguf path).
    `setting` names the config key in the error for a path that does not exist."""
    if bundled_package and bundled_path:
        found = bundled_file(bundled_package, bundled_path)
        if found is not None:
            return _source_for_path(found)
        log.info("bundled package %s not installed; using %s", bundled_package, model)
    path = Path(model).expanduser()
    if path.exists():
        return _source_for_path(path)
    if not _HUB_ID.match(model) or model.endswith(".gguf"):
        # Found now, not after the teacher has been paid: from_pretrained would fail only at load.
        raise ValueError(f"{setting}={model!r} is neither an existing file or folder nor a hub id like org/name; "
                         "check the path")
    return ModelSource(model)


# What the hub accepts as a repo id: name or namespace/name (a path that does not exist is neither).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _source_for_path(path: Path) -> ModelSource:
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(str(path.parent), path.name)
    return ModelSource(str(path))


def materialize(source: ModelSource) -> str:
    """A path or hub id that from_pretrained loads quickly: GGUF sources are converted once and cached."""
    if source.gguf_file is None:
        return source.path
    target = converted_path(source)
    if (target / "config.json").exists():
        return str(target)
    gguf = Path(source.path) / source.gguf_file
    log.info("converting %s once (dequantizing GGUF); cached at %s", gguf, target)
    t0 = time.perf_counter()
    _convert_gguf(source, target)
    record_conversion(gguf, time.perf_counter() - t0)
    return str(target)


def converted_path(source: ModelSource) -> Path:
    """Where materialize keeps (or will keep) the converted weights of a GGUF source."""
    gguf = Path(source.path) / str(source.gguf_file)
    # The file's content, not its path and time stamp: a file replaced in place converts again, a copy elsewhere
    # reuses the conversion.
    stat = gguf.stat()
    return cache_root() / "converted" / f"{gguf.stem}-{_content_key(gguf.resolve(), stat.st_size, stat.st_mtime_ns)}"


@functools.lru_cache(maxsize=16)
def _content_key(path: Path, size: int, mtime_ns: int) -> str:
    """Hashed once per process and file version (a sweep plan asks for every job)."""
    return file_digest(path)[:16]


@contextmanager
def _gguf_parsed_once():
    """transformers parses the GGUF header three times (config, weights, tokenizer; its 49k-token vocabulary makes
    each parse seconds long) and builds gguf's tensor-name map again for every tensor. Both are pure functions of
    their arguments (the reader maps the file read-only), so a conversion memoises them."""
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=2)(reader)
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map


def _convert_gguf(source: ModelSource, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _gguf_parsed_once():
        model = AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf_file, dtype="auto")
        tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
    # The dequantized weights are plain tensors; drop the GGUF marker so save_pretrained accepts them.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so concurrent jobs never see a half-written folder.
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.rename(tmp, target)
    except OSError:
        if not (target / "config.json").exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
