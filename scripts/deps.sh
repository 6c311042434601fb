#!/usr/bin/env bash
# Installs the Debian packages the tests run for real, when they are missing: a recursive
# resolver (unbound), a PostgreSQL server (started by the tests themselves on free loopback
# ports) and a headless browser (chromium, driven by the report page's test). Needs root or
# sudo; does nothing when all are present.
set -euo pipefail

need=()
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)

[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]}"
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# The packages start system services; the tests start their own.
for service in unbound postgresql; do
  $sudo systemctl disable --now "$service" >/dev/null 2>&1 || $sudo service "$service" stop >/dev/null 2>&1 || true
done
