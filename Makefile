# Quick start: `make analyze` and `make test` each set everything up in .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= results/digits

.PHONY: setup analyze test fuzz bench clean

$(BIN)/wavelens: pyproject.toml setup.py src/wavelens/_kernels.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/wavelens

analyze: setup
	$(BIN)/wavelens analyze digits --out $(OUT) --overwrite

test: setup
	$(BIN)/python -m pytest

# The loaders under 10,000 mutated files per format (the suite tries 2,000 of each).
fuzz: setup
	$(BIN)/python tests/fuzzing.py --per-format 10000

bench: setup
	$(BIN)/python benchmarks/bench_lowrank.py
	$(BIN)/python benchmarks/bench_analyze.py
	$(BIN)/python benchmarks/bench_spectral.py

clean:
	rm -rf $(VENV) results
