# Nexpo Reports: the two commands of the README are `make run` and `make test`.
# Everything else here is a step they depend on.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
WAREHOUSE := instance/warehouse.duckdb
# The demo data ends today: regenerate it once a day (1-2 s) so "last 7 days" is never empty.
DEMO_STAMP := instance/.demo-data-$(shell date -u +%F)

.PHONY: run test setup chromium demo lint fmt clean-venv env-example

run: setup chromium-optional $(DEMO_STAMP)
	$(BIN)/python app.py

test: setup chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

chromium:
	@sh scripts/ensure_chromium.sh --with-office

chromium-optional:
	@sh scripts/ensure_chromium.sh || echo "Continuing without Chromium: image and PDF exports will not work."

demo: $(DEMO_STAMP)

$(DEMO_STAMP): | $(STAMP)
	$(BIN)/flask --app app demo-data --scale small --target duckdb:///$(CURDIR)/$(WAREHOUSE)
	@rm -f instance/.demo-data-*
	@touch $@

# .env.example is generated from settings.py (every variable, its default and meaning).
env-example: setup
	$(BIN)/python settings.py > .env.example

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-venv:
	rm -rf $(VENV)
