# make run: build and serve Corefile.example; make test: every test; make build: bin/coredns
# (or BIN=PATH) and the offline tool bin/mailustats (or TOOL=PATH).
GO ?= go
BIN ?= bin/coredns
TOOL ?= bin/mailustats

.PHONY: build run test fuzz clean bench bench-memory bench-import

# The build identity that bin/coredns -version and the build_info metrics report; set from git,
# or on the command line (make build VERSION=v1.2.0 REVISION=...).
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)
REVISION := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS = -X github.com/mailustats/mailustats.buildVersion=$(VERSION) -X github.com/mailustats/mailustats.buildRevision=$(REVISION)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./build
	$(GO) build -ldflags '$(LDFLAGS)' -o $(TOOL) ./cmd/mailustats

run: build
	mkdir -p data
	./bin/coredns -conf Corefile.example

test:
	bash scripts/test.sh

# make bench: throughput and latency against the whoami baseline (DURATION, ROUNDS, INSTANCES);
# make bench-memory: the server's memory over 1,000,000 distinct instances. See bench/run.sh.
bench:
	bash bench/run.sh

bench-memory:
	bash bench/run.sh -memory 1000000

# make bench-import: mailustats import of a 10-million-line old log into SQLite and PostgreSQL.
bench-import:
	$(GO) test -run '^$$' -bench Import -benchtime 1x -v ./bench/importbench

clean:
	rm -rf bin data
