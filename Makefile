# ohfp: HostFactory provider plugin for AWS.
GO       ?= go
BIN      := bin/ohfp
VERSION  ?= $(shell cat VERSION)
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null)
# The commit's time, not the clock's: one commit, one build date.
DATE     := $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
FUZZTIME ?= 10s

.PHONY: all build demo test vet lint fuzz bench bench-readme setup clean docs release

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
	cd tools/release && $(GO) test -count=1 -timeout 10m ./...
	$(MAKE) fuzz

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	cd tools/release && $(GO) vet ./...

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

# make bench, then the README's performance table rewritten from that run.
bench-readme: setup build
	$(GO) run ./tools/bench --bin $(BIN) --readme README.md

# Tarball, .deb and .rpm for linux/amd64 and linux/arm64 in dist/, then the
# package test on both, which also checks dist/ holds what this commit builds.
release: setup
	cd tools/release && $(GO) run . -root $(CURDIR) -out $(CURDIR)/dist -arch amd64,arm64
	cd tools/release && OHFP_RELEASE_ARCHES=amd64,arm64 OHFP_RELEASE_DIST=$(CURDIR)/dist $(GO) test -count=1 -timeout 20m ./...

clean:
	rm -rf bin dist
