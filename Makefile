# make run: build and serve Corefile.example; make test: every test; make build: bin/coredns.
GO ?= go

.PHONY: build run test fuzz clean bench bench-memory

build:
	$(GO) build -o bin/coredns ./build

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

clean:
	rm -rf bin data
