# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create (or reuse) the local virtual environment .venv and are idempotent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

# Exact versions come from constraints.txt (tools/make_constraints.py writes it);
# editing pyproject.toml or constraints.txt reinstalls.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pytaaa demo --dir demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/daily_run.py
	$(PY) bench/charts.py
	$(PY) bench/montecarlo.py
	$(PY) bench/optimize.py
	$(PY) bench/model_switching.py
	$(PY) bench/lookback_search.py

clean:
	rm -rf $(VENV) demo
