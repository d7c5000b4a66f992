# `make run` and `make test` set themselves up: virtual environment, install, migrations.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean sdk-ts go-toolchain go-lint

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

test: $(STAMP) sdk-ts go-toolchain
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) $(TS_STAMP) go-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(TS_SDK) && npm run --silent lint

# The Go SDK (sdk/go) builds with Debian's golang-go and the standard library only.
GO_ENV := GOTOOLCHAIN=local GOPROXY=off GOCACHE=$(CURDIR)/var/go-cache

go-toolchain:
	@command -v go >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "== installing golang-go (the Go SDK's tests need it)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; \
	  else \
	    echo "make test needs Go for sdk/go: install it with 'sudo apt-get install golang-go'" >&2; exit 1; \
	  fi; }

go-lint: go-toolchain
	@unformatted="$$(cd sdk/go && gofmt -l .)"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt -l sdk/go: $$unformatted" >&2; exit 1; fi
	cd sdk/go && $(GO_ENV) go vet ./...

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var $(TS_SDK)/node_modules $(TS_SDK)/dist $(TS_SDK)/dist-test
