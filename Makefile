# sessionbench: reference session server (sessiond) and load generator (loadgen).
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
SCENARIO ?= scenarios/smoke.yaml
BENCH_ARGS ?=

.PHONY: all build test vet fmt bench fuzz clean

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
# need redis-server or the Firebase Auth emulator fail instead of skipping.
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...

# The main job: a short load run on embedded Redis (no Docker, no Redis
# install, no emulator), then the summary and where the results are.
bench: build
	./$(BIN)/loadgen run $(SCENARIO) $(BENCH_ARGS)

# Short fuzzing of every parser (FUZZTIME per target).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
