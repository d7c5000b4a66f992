# `make run` and `make test` set themselves up: the Debian packages they need
# (scripts/ensure-system-packages, list in scripts/system-packages), virtual environment,
# install, migrations.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean sdk-ts go-lint

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
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null || \
	  { echo "sdk/typescript needs Node.js 20 or newer with npm (https://nodejs.org); found: $$(node --version 2>&1)" >&2; exit 1; }
	cd $(TS_SDK) && npm ci --no-audit --no-fund
	@touch $(TS_STAMP)

sdk-ts: $(TS_STAMP)
	cd $(TS_SDK) && npm run --silent build

run: $(STAMP)
	@scripts/ensure-system-packages run
	$(BIN)/python manage.py run_stack

test: $(STAMP) sdk-ts
	@scripts/ensure-system-packages test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) sdk-ts go-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(TS_SDK) && npm run --silent lint

# The Go SDK (sdk/go) builds with Debian's golang-go and the standard library only.
GO_ENV := GOTOOLCHAIN=local GOPROXY=off GOCACHE=$(CURDIR)/var/go-cache

go-lint:
	@scripts/ensure-system-packages lint
	@unformatted="$$(cd sdk/go && gofmt -l .)"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt -l sdk/go: $$unformatted" >&2; exit 1; fi
	cd sdk/go && $(GO_ENV) go vet ./...

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var $(TS_SDK)/node_modules $(TS_SDK)/dist $(TS_SDK)/dist-test
