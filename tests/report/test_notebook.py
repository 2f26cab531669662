"""notebooks/sweep_analysis.ipynb executes on a real tiny sweep and draws its plots from the report API."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO
from tests.report.sweep import tiny_sweep

NOTEBOOK = REPO / "notebooks" / "sweep_analysis.ipynb"


def python3_kernel() -> str:
    """The venv's own python3 kernel; registered into the venv (sys.prefix) on a machine that lacks it."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                       check=True, capture_output=True)
    return "python3"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return tiny_sweep(tmp_path_factory)


def test_notebook_executes_and_draws_the_plots(sweep, monkeypatch, tmp_path):
    monkeypatch.setenv("SGEN_SWEEP_DIR", str(sweep))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel inherits this environment (SGEN_SWEEP_DIR, OMP_NUM_THREADS=1), and runs from notebooks/.
    NotebookClient(nb, kernel_name=python3_kernel(), timeout=300,
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # ratio panels, score vs queries paid, score vs tokens
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "9 jobs: {'ok': 8, 'failed': 1}" in text
    assert text.count("with seed size") == 4  # one recommendation per (seed size, ratio) grid point
    assert str(sweep) in "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
