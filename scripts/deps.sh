#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (a recursive resolver for the end-to-end
# tests), when they are missing. Needs root or sudo; does nothing when all are present.
set -euo pipefail

need=()
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)

[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]}"
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# The package starts a system resolver on port 53; the tests start their own.
$sudo systemctl disable --now unbound >/dev/null 2>&1 || true
