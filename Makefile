# The two commands of the README: `make demo` and `make test`. Both set up everything they need first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export PYTHON

.PHONY: demo test bench lint lock bundle check-python clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'

# Every install takes its versions from constraints.txt, so that boxes set up on different days run the same.
$(VENV)/.installed-run: pyproject.toml constraints.txt | check-python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip -c constraints.txt
	$(PY) -m pip install -q -e . -c constraints.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run
	$(PY) -m pip install -q -e '.[dev]' -c constraints.txt
	touch $@

# Runs the appliance on the demo plant and prints the kiosk URL (DEMO_ARGS="--port 9090 --data /tmp/x").
demo: check-python
	@bash image_build/debian-deps.sh run
	@$(MAKE) --no-print-directory $(VENV)/.installed-run
	$(VENV)/bin/safety-appliance demo $(DEMO_ARGS)

# ruff, mypy, then the whole suite against real peers (PYTEST_ARGS="-k sse -x" to narrow it).
test: check-python
	@bash image_build/debian-deps.sh test
	@$(MAKE) --no-print-directory $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks with figures and ratios to a baseline measured in the same run (GUIDE §5).
bench: check-python
	@$(MAKE) --no-print-directory $(VENV)/.installed-dev
	$(PY) bench/run.py

# Style and type checks alone (ruff, mypy: settings in pyproject.toml); `make test` runs them first too.
lint: check-python
	@$(MAKE) --no-print-directory $(VENV)/.installed-dev
	$(VENV)/bin/ruff check . ; r=$$?; $(VENV)/bin/mypy; m=$$?; exit $$((r || m))

# Rewrites constraints.txt: '.[dev]' resolved afresh in a scratch venv, every version pinned. Run it after
# changing a dependency in pyproject.toml (the ~= ranges there still bound what it may pick), then commit it.
LOCK_VENV := build/lock-venv
lock: check-python
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q -U pip
	$(LOCK_VENV)/bin/python -m pip install -q -e '.[dev]'
	{ echo "# Exact versions of everything '.[dev]' installs, dependencies of dependencies included: make demo and"; \
	  echo "# make test install with -c constraints.txt. Written by 'make lock', do not edit by hand; resolved on"; \
	  $(LOCK_VENV)/bin/python -c 'import platform; print("# Python", platform.python_version(), platform.machine())'; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable --exclude setuptools --exclude wheel; \
	} > constraints.txt
	rm -rf $(LOCK_VENV)

# A release bundle for `safety-appliance update BUNDLE` (offline): this checkout's wheel, constraints.txt and every
# wheel it needs, pip's included, in build/bundle/safety-appliance-<version>. WHEELHOUSE=DIR takes the wheels
# from a wheelhouse (image_build/wheelhouse.sh) instead of building them. Build it on the boxes' architecture.
VERSION = $(shell sed -n 's/^__version__ = "\([^"]*\)"$$/\1/p' appliance/__init__.py)
bundle: check-python
	rm -rf build/bundle/safety-appliance-$(VERSION)
	bash image_build/bundle.sh $(if $(WHEELHOUSE),--wheelhouse $(WHEELHOUSE)) build/bundle/safety-appliance-$(VERSION)

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache
