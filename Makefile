# ohfp: HostFactory provider plugin for AWS.
GO       ?= go
BIN      := bin/ohfp
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: all build demo test vet lint fuzz bench setup clean docs

all: build

# A static binary: no cgo (SQLite is pure Go).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ohfp

# The five operations end to end against the local sandbox, through the real scripts.
demo: build
	$(GO) run ./tools/demo --bin $(BIN)

# Everything CI runs: vet, script lint, every test (against one DynamoDB
# Local for the whole run), and a short run of every fuzz target.
test: setup vet build
	shellcheck scripts/*.sh tools/*.sh tools/*/*.sh
	tools/dynamodb/with-server.sh $(GO) test -count=1 -timeout 15m ./...
	$(MAKE) fuzz

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...

# Regenerates docs/reference.md from internal/config's tables; a test fails
# while it is stale.
docs:
	$(GO) run ./tools/docs

# Installs what the tests need (idempotent).
setup:
	tools/setup.sh

fuzz:
	tools/fuzz.sh $(FUZZTIME)

# Whole-process latency and peak memory of each operation against the sandbox.
bench: setup build
	$(GO) run ./tools/bench --bin $(BIN)

clean:
	rm -rf bin
