VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit test-fleet lint deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

deps:
	scripts/system-deps.sh

demo: $(STAMP) deps
	scripts/demo.sh $(DEMO_ARGS)

# --durations: the slowest tests listed at the end, to keep the whole run inside its time budget.
test: lint deps
	$(PY) -m pytest -q --durations=40

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

test-fleet: $(STAMP) deps
	$(PY) -m pytest -q -m fleet

lint: $(STAMP)
	$(VENV)/bin/ruff check fleetfix tests bench plugins scripts
	$(VENV)/bin/ruff format --check fleetfix tests bench plugins scripts
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ansible-lint --offline -q

clean:
	rm -rf $(VENV) build dist *.egg-info
