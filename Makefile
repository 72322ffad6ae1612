# Tool OCR: `make run` serves the app locally; `make test` runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
PORT ?= 8000
AUTH_PORT ?= 8765

.PHONY: run test setup system-deps migrate schema worker clean-data help screenshots

help:
	@echo "make run    - set up, then serve Tool OCR on SQLite with a worker and the dev auth API"
	@echo "make test   - set up, then run the whole test suite (SQLite unless DATABASE_URL says otherwise)"
	@echo "make screenshots - retake the user guide's screenshots (docs/images/*.png) in Chromium"
	@echo "make schema - regenerate database_schema.sql (from a migrated MariaDB database) and docs/database.md"

system-deps:
	@bash scripts/system_deps.sh

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@rm -f $(VENV)/.installed-*; touch $@

.env:
	@sed -e "s|^SECRET_KEY=.*|SECRET_KEY=$$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')|" \
	     -e "s|^DEBUG=.*|DEBUG=true|" .env.example > .env
	@echo "Wrote .env (edit it to change settings)"

setup: system-deps $(STAMP) .env

migrate: setup
	$(BIN)/python manage.py migrate --no-input -v0

run: migrate
	@PORT=$(PORT) AUTH_PORT=$(AUTH_PORT) bash scripts/run_dev.sh

test: setup
	@bash scripts/run_tests.sh

schema: setup
	@bash scripts/make_schema.sh

screenshots: setup
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/ops/test_user_guide_screenshots.py -m browser
