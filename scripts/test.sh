#!/usr/bin/env bash
# Runs every test: vet, the unit and end-to-end tests (with the race detector), and a bounded
# fuzzing run of the name parser on top of its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
go vet ./...
go test -race -count=1 ./...
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "${FUZZTIME:-20s}" ./plugin/qname
