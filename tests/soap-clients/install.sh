#!/usr/bin/env bash
# Installs the real SOAP clients of the SOAP test suite (tests/tests/api/soap/clients.rs), pinned:
# PHP's SoapClient (Debian php-cli php-soap), python zeep and suds-community (a virtualenv in
# python/.venv, from python/requirements.txt) and the npm soap package (node/, npm ci from
# package-lock.json). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v php >/dev/null 2>&1 || ! php -m 2>/dev/null | grep -qx soap; then
  echo "Installing PHP's SoapClient (php-cli php-soap)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends php-cli php-soap
fi

if [ ! -x python/.venv/bin/python ]; then
  python3 -m venv python/.venv
fi
python/.venv/bin/pip install --quiet --disable-pip-version-check -r python/requirements.txt

(cd node && npm ci --no-audit --no-fund --loglevel=error)
