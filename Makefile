# The two commands of the README: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export HOTLINE_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test test-scaleout lint typecheck importlint pytest openai-whisper bench bench-load clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing python3-venv (Debian splits venv out of Python)..."; \
	    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; \
	  else echo "Please install Debian's python3-venv: sudo apt-get install python3-venv"; exit 1; fi; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	@touch $@

# Start the hotline on the embedded defaults (SQLite, SQLite-backed queue, bundled Whisper base).
run: $(VENV)/.installed
	@mkdir -p "$(HOTLINE_INSTANCE_PATH)"
	@[ -f .env ] || $(BIN)/python -m hotline.devenv > .env
	$(BIN)/hotline db upgrade
	@$(BIN)/hotline seed-demo
	@echo
	@echo "The hotline is starting: open http://$(HOST):$(PORT)/ and log in with an account above."
	@echo "Twilio's 'A call comes in' webhook: POST http://$(HOST):$(PORT)/ivr/incoming"
	@echo "Place a call without Twilio:  $(BIN)/hotline simulate-call --digits 1 --audio message.wav"
	@echo "See the tickets:              $(BIN)/hotline tickets list"
	@echo "Stop with Ctrl+C."
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/hotline worker & \
	  $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 --access-logfile - hotline.wsgi:app

test: $(VENV)/.installed-test lint typecheck importlint pytest

# The scale-out mode: the same test suite again, every test on a fresh PostgreSQL database and on
# Redis queues. .ci/run starts both on loopback; locally, point these at your own (the role
# needs CREATEDB: each test's database is cloned from a template and dropped after).
TEST_DATABASE_URL ?= postgresql://hotline:hotline@127.0.0.1:5432/hotline
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

$(VENV)/.installed-scaleout: $(VENV)/.installed-test
	$(BIN)/pip install -q -e ".[test,postgres]"
	@touch $@

test-scaleout: $(VENV)/.installed-scaleout
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" TEST_REDIS_URL="$(TEST_REDIS_URL)" $(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy hotline ivr transcription tickets storage web

importlint:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest

# The reference engine (optional): CPU torch from the local wheel first, then openai-whisper
# without triton (a ~1 GB GPU compiler that is useless on a CPU).
openai-whisper: $(VENV)/.installed
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps "openai-whisper>=20240930"
	$(BIN)/pip install -q numba tiktoken more-itertools tqdm

bench: $(VENV)/.installed-test
	$(BIN)/python bench/transcribe.py

# Webhook load against gunicorn on loopback (SQLite; add --database-url for PostgreSQL).
bench-load: $(VENV)/.installed-test
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
