# Two commands for a new user: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3.11, python3.12 or python3.13 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bot demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core bot handlers storage jobs

bench: $(STAMP)
	$(BIN)/python benchmarks/search_quality.py
	$(BIN)/python benchmarks/search_quality.py --set heldout
	$(BIN)/python benchmarks/search_speed.py --n 100000
	$(BIN)/python benchmarks/import_speed.py --n 100000
	$(BIN)/python benchmarks/picks_speed.py
	$(BIN)/python benchmarks/mygoods_speed.py
	$(BIN)/python benchmarks/webapp_speed.py
	$(BIN)/python benchmarks/sender_throughput.py
	$(BIN)/python benchmarks/digest_throughput.py
	$(BIN)/python benchmarks/updates_throughput.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .hypothesis
