# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONFIG ?= configs/article.yaml
# every core of the machine (cells run in parallel, one thread each)
JOBS ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: run test test-slow quickstart bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# says first how long the study takes and where the quickstart is (src/fanlab/report/eta.py)
run: $(STAMP)
	@$(BIN)/python src/fanlab/report/eta.py $(CONFIG) $(JOBS)
	$(BIN)/fanlab run $(CONFIG) --jobs $(JOBS)

quickstart: $(STAMP)
	$(BIN)/fanlab run configs/quickstart.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) results/quickstart .pytest_cache
