#!/usr/bin/env bash
# Benchmarks mailustats against CoreDNS's whoami plugin with dnsperf: installs dnsperf (Debian's
# package, with apt-get, as root or through sudo) when missing, builds bin/coredns and runs the
# driver in bench/cmd/perf. Settings come from the environment or the arguments, which win:
#   DURATION (10s a run), ROUNDS (2), INSTANCES (100000); `-memory N` measures memory instead.
# `make bench` and `make bench-memory` call it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dnsperf >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "run.sh: dnsperf is missing; install it as root" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "installing dnsperf"
  $sudo apt-get update -q >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dnsperf >/dev/null
fi

make build
exec go run ./bench/cmd/perf "$@"
