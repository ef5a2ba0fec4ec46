# sessionbench: reference session server (sessiond) and load generator (loadgen).
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
SCENARIO ?= scenarios/smoke.yaml
BENCH_ARGS ?=

.PHONY: all build test test-stress vet fmt bench bench-generator gate fuzz clean web-deps

all: build

build: $(BIN)/sessiond $(BIN)/loadgen

$(BIN)/sessiond: FORCE
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./reference/cmd/sessiond

$(BIN)/loadgen: FORCE
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./loadgen/cmd/loadgen

FORCE:

vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...

# make test = vet + the race-enabled test suite. With CI set, tests that
# need redis-server, the Firebase Auth emulator or the browser suite's
# tools fail instead of skipping.
# gotestsum runs go test and ends with every skipped test and why, then
# one line of counts, so a skip is never silent.
GOTESTSUM ?= $(GO) run gotest.tools/gotestsum@v1.13.0
TEST_FLAGS ?= -race -count=1 -timeout 30m
test: vet web-deps
	$(GOTESTSUM) --format pkgname --format-hide-empty-pkg -- $(TEST_FLAGS) ./...

# The whole suite STRESS_RUNS times while two busy loops load both cores:
# a test that fails here depends on timing and is a defect.
STRESS_RUNS ?= 3
test-stress: vet web-deps
	@set -e; busy() { while :; do :; done; }; busy & b1=$$!; busy & b2=$$!; \
	  trap 'kill $$b1 $$b2 2>/dev/null' EXIT INT TERM; \
	  for i in $$(seq $(STRESS_RUNS)); do \
	    echo "test-stress: run $$i of $(STRESS_RUNS), both cores busy"; \
	    $(GOTESTSUM) --format pkgname --format-hide-empty-pkg -- $(TEST_FLAGS) ./...; \
	  done

# The npm packages of the reference web client and its browser suite
# (firebase, esbuild, playwright-core), from the committed
# reference/web/package-lock.json, reinstalled only when it changed.
# Without npm the browser suite skips (fails in CI).
WEB := reference/web
web-deps:
	@if command -v npm >/dev/null 2>&1; then \
	  if [ ! -f $(WEB)/node_modules/.package-lock.json ] || [ $(WEB)/package-lock.json -nt $(WEB)/node_modules/.package-lock.json ]; then \
	    echo "web: npm ci in $(WEB)"; (cd $(WEB) && npm ci --no-fund --no-audit) || exit 1; \
	  fi; \
	else echo "web: npm not found; the browser suite will skip (apt-get install -y nodejs npm chromium)"; fi

# The main job: a short load run on embedded Redis (no Docker, no Redis
# install, no emulator), then the summary and where the results are.
bench: build
	./$(BIN)/loadgen run $(SCENARIO) $(BENCH_ARGS)

# loadgen's own cost on this machine: CPU per operation, schedule lag and
# the latency floor against a null target, at a few rates (generator and
# null target pinned to separate cores); BENCH_GEN_CO=1 adds the
# coordinated-omission check. See scripts/bench-generator.
bench-generator:
	@scripts/bench-generator

# The CI gate: is this tree's sessiond slower than BASE's? Builds both and
# compares them on this machine (duet runs by default; GATE_MODE=rmit for
# interleaved trials). See scripts/gate for the settings. make turns any
# failure into exit 2; run scripts/gate itself to keep the gate's code
# (0 pass, 3 regression, 1 inconclusive).
gate:
	@BASE=$(BASE) scripts/gate

# Short fuzzing of every parser (FUZZTIME per target: a duration such as
# 20s, or a count of executions such as 25000x, which CI uses: see .ci/run).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
