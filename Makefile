# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LISTEN ?= 127.0.0.1:8084
HTTP ?= 127.0.0.1:8085
RATE ?= 100
CALLS ?= 2000
# the audit part of make bench: seal, verify and rebuild a log this long
AUDIT_EVENTS ?= 1000000
# the call-center part of make bench: callers through a queue with 100 agents
QUEUE_CALLERS ?= 1000

.PHONY: install run test lint typecheck bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/pbx serve --listen $(LISTEN) --http $(HTTP)

test: $(STAMP)
	$(BIN)/python tests/parallel.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m esl_controller.bench --rate $(RATE) --calls $(CALLS)
	$(BIN)/python -m esl_controller.bench_audit --events $(AUDIT_EVENTS)
	$(BIN)/python -m esl_controller.bench_queue --callers $(QUEUE_CALLERS)

clean:
	rm -rf $(VENV) var build *.egg-info
