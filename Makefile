# make run: build and serve Corefile.example; make test: every test; make build: bin/coredns.
GO ?= go

.PHONY: build run test fuzz clean

build:
	$(GO) build -o bin/coredns ./build

run: build
	mkdir -p data
	./bin/coredns -conf Corefile.example

test:
	bash scripts/test.sh

clean:
	rm -rf bin data
