#!/usr/bin/env bash
# Installs the Debian packages the tests run for real, when they are missing: a recursive
# resolver (unbound), a PostgreSQL server (started by the tests themselves on free loopback
# ports), a headless browser (chromium, driven by the report page's test), and the DNS checker
# dnsviz with the named it starts (bind9), run in a network namespace with only loopback. Needs
# root or sudo; does nothing when all are present.
set -euo pipefail

need=()
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v dnsviz >/dev/null 2>&1 || need+=(dnsviz)
[ -x /usr/sbin/named ] && [ -x /usr/bin/named-checkconf ] || need+=(bind9)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)

[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]}"
# Keep the packages' services from starting at all (named would query the root servers):
# Debian's maintainer scripts start no service while policy-rc.d exits 101.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# Nor at boot: the tests start their own.
for service in unbound postgresql named; do
  $sudo systemctl disable --now "$service" >/dev/null 2>&1 || $sudo service "$service" stop >/dev/null 2>&1 || true
done
