#!/usr/bin/env bash
# Runs every test: vet; the packages with goroutines under the race detector; the end-to-end
# tests of the built binary (whose load generators would only be slowed by it); and a bounded
# fuzzing run of the name parser on top of its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
go vet ./...
# shellcheck disable=SC2046 # one word per package
go test -race -count=1 $(go list ./... | grep -v -e '/e2e$' -e '/deploy$')
go test -count=1 ./e2e ./deploy
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "${FUZZTIME:-30s}" ./plugin/qname
