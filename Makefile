# `make run` and `make test` set themselves up: virtual environment, install, migrations.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean sdk-ts

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The TypeScript SDK (sdk/typescript): npm ci when node_modules is missing or older than the
# lock file, then the build (tsc). The tests build it too (tests/sdk_typescript).
TS_SDK := sdk/typescript
TS_STAMP := $(TS_SDK)/node_modules/.package-lock.json

$(TS_STAMP): $(TS_SDK)/package-lock.json
	cd $(TS_SDK) && npm ci --no-audit --no-fund
	@touch $(TS_STAMP)

sdk-ts: $(TS_STAMP)
	cd $(TS_SDK) && npm run --silent build

run: $(STAMP)
	$(BIN)/python manage.py run_stack

test: $(STAMP) sdk-ts
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) $(TS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(TS_SDK) && npm run --silent lint

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var $(TS_SDK)/node_modules $(TS_SDK)/dist $(TS_SDK)/dist-test
